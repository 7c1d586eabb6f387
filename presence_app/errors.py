"""The error vocabulary and its one translation to the wire envelope."""
import logging

from sqlalchemy.exc import DBAPIError, TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 411: "length_required", 413: "payload_too_large",
    415: "unsupported_media_type", 429: "too_many_requests",
}
RETRY_AFTER_SECONDS = 5  # what a 503 asks clients to wait


class AppError(Exception):
    """A domain error that maps to one HTTP status and one error code."""

    status = 400
    code = "bad_request"
    retry_after = None

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


class AgentDeactivated(Unauthorized):
    """A valid token of an agent that has been deactivated (it left the org)."""

    code = "agent_deactivated"


class Forbidden(AppError):
    """Valid credentials, but not allowed to do this."""

    status = 403
    code = "forbidden"


class NotFound(AppError):
    """Unknown, or belonging to another org (the two are not told apart)."""

    status = 404
    code = "not_found"


class NoAgentAvailable(AppError):
    """Routing found no agent available for assignment (or not the one named)."""

    status = 409
    code = "no_agent_available"


class LimitExceeded(AppError):
    """A ceiling of the contract (chats per socket, sockets per agent) is reached."""

    status = 403
    code = "limit_exceeded"


class TooManyRequests(AppError):
    """A rate limit is exceeded; retry after `retry_after` seconds."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message, retry_after=1):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class ServiceUnavailable(AppError):
    """A dependency (the database) does not answer; nothing was changed."""

    status = 503
    code = "service_unavailable"
    retry_after = RETRY_AFTER_SECONDS


def vocabulary():
    """Every `error` code an answer or ack may carry."""
    found, classes = set(), [AppError]
    while classes:
        cls = classes.pop()
        found.add(cls.code)
        classes.extend(cls.__subclasses__())
    return sorted(found | set(_HTTP_CODES.values()) | {"http_error", "internal_error"})


def envelope(code, message, details=None):
    """The one error body of REST answers and socket acks."""
    return {"error": code, "message": _encodable(message), "details": _encodable(details or {})}


def _encodable(value):
    """`value` with lone surrogates escaped: an error may quote input that UTF-8 cannot carry."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encodable(v) for v in value]
    return value


def translate(exc):
    """The AppError an exception stands for, or None for a bug."""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, (DBAPIError, PoolTimeout)) and _unreachable(exc):
        # One line, no traceback: during an outage every request would print one.
        log.warning("database unavailable: %s", str(getattr(exc, "orig", exc)).strip().splitlines()[0])
        return ServiceUnavailable("the database is unavailable; try again shortly")
    return None


def _unreachable(exc):
    if isinstance(exc, PoolTimeout):
        return True
    return exc.connection_invalidated or type(exc).__name__ in ("OperationalError", "InterfaceError")


def to_wire(exc):
    """Translate any exception to (body, status, retry_after); internals never leave the process."""
    known = translate(exc)
    if known is not None:
        return envelope(known.code, known.message, known.details), known.status, known.retry_after
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        return envelope(_HTTP_CODES.get(exc.code, "http_error"), exc.description or exc.name), exc.code, None
    log.exception("unhandled error", exc_info=exc)
    return envelope("internal_error", "internal server error"), 500, None


def init_app(app):
    """Answer every error of the app with the envelope."""

    @app.errorhandler(Exception)
    def _handle(exc):
        body, status, retry_after = to_wire(exc)
        response = app.json.response(body)
        response.status_code = status
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        if isinstance(exc, HTTPException) and exc.code == 405:
            response.headers["Allow"] = exc.get_response().headers.get("Allow", "")
        return response
