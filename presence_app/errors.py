"""The error vocabulary and its one translation to the wire envelope."""
import logging

from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
    429: "too_many_requests",
}


class AppError(Exception):
    """A domain error that maps to one HTTP status and one error code."""

    status = 400
    code = "bad_request"

    def __init__(self, message, details=None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationError(AppError):
    """Input that breaks a rule of the contract."""

    code = "validation_error"


class Unauthorized(AppError):
    """Missing, malformed, expired or otherwise invalid credentials."""

    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    """Valid credentials, but not allowed to do this."""

    status = 403
    code = "forbidden"


class NotFound(AppError):
    """Unknown, or belonging to another org (the two are not told apart)."""

    status = 404
    code = "not_found"


def envelope(code, message, details=None):
    """The one error body of REST answers and socket acks."""
    return {"error": code, "message": message, "details": details or {}}


def to_wire(exc):
    """Translate any exception to (body, status); internals never leave the process."""
    if isinstance(exc, AppError):
        return envelope(exc.code, exc.message, exc.details), exc.status
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        return envelope(_HTTP_CODES.get(exc.code, "http_error"), exc.description or exc.name), exc.code
    log.exception("unhandled error", exc_info=exc)
    return envelope("internal_error", "internal server error"), 500


def init_app(app):
    """Answer every error of the app with the envelope."""

    @app.errorhandler(Exception)
    def _handle(exc):
        body, status = to_wire(exc)
        response = app.json.response(body)
        response.status_code = status
        if isinstance(exc, HTTPException):
            for name in ("Allow", "Retry-After"):
                if exc.get_response().headers.get(name):
                    response.headers[name] = exc.get_response().headers[name]
        return response


def init_jwt(jwt):
    """Answer every flask-jwt-extended failure with 401 in the envelope (not its 422 {"msg"})."""

    def _unauthorized(message):
        return envelope("unauthorized", message), 401

    jwt.unauthorized_loader(lambda reason: _unauthorized(f"missing or malformed Authorization header: {reason}"))
    jwt.invalid_token_loader(lambda reason: _unauthorized(f"invalid token: {reason}"))
    jwt.expired_token_loader(lambda _header, _payload: _unauthorized("token has expired"))
    jwt.token_verification_failed_loader(lambda _header, _payload: _unauthorized("token claims are not valid"))
    jwt.revoked_token_loader(lambda _header, _payload: _unauthorized("token has been revoked"))
    jwt.needs_fresh_token_loader(lambda _header, _payload: _unauthorized("a fresh token is required"))
    jwt.user_lookup_error_loader(lambda _header, _payload: _unauthorized("unknown agent"))
