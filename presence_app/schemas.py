"""Input validation and output shapes, shared by REST and Socket.IO."""
import functools
import json
import re
import time
from datetime import UTC, datetime, timedelta

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from marshmallow import RAISE, Schema, ValidationError as MarshmallowError, fields, validate, validates_schema

from .errors import ValidationError
from .models import STATUSES

CHAT_ID = re.compile(r"[A-Za-z0-9_.:@+\-]{1,64}")
# C0 and C1 controls, line/paragraph separators, lone surrogates, bidi overrides and isolates.
FORBIDDEN_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
MAX_DEPTH = 32
CODE = re.compile(r"[A-Za-z0-9_\-]{1,32}")
MAX_ID = 2**63 - 1
MAX_REPORT_DAYS = 31
CURSOR_SALT = "presence_app.history-cursor"


def text_problem(value):
    """Why `value` breaks the text rules of names and messages, or None."""
    found = FORBIDDEN_TEXT.search(value)
    if found is None:
        return None
    char = found.group()
    if "\ud800" <= char <= "\udfff":
        return "must not contain lone surrogates"
    if "\u202a" <= char <= "\u202e" or "\u2066" <= char <= "\u2069":
        return "must not contain bidirectional overrides or isolates"
    return "must not contain control characters"


def _text(value):
    problem = text_problem(value)
    if problem:
        raise MarshmallowError(problem)


def _encodable(value):
    # A password may hold any character a keyboard can type; a lone surrogate is not one (no UTF-8).
    if any("\ud800" <= char <= "\udfff" for char in value):
        raise MarshmallowError("must not contain lone surrogates")


def _chat_id(value):
    if not CHAT_ID.fullmatch(value):
        raise MarshmallowError("must be 1-64 characters of letters, digits and _.:@+-")


def _string(required=False, **kwargs):
    messages = {"required": "is required", "invalid": "must be a string", "null": "must be a string"}
    return fields.String(required=required, error_messages=messages, **kwargs)


class _Strict(Schema):
    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "is not allowed", "type": "body must be a JSON object"}


def _code(value):
    if not CODE.fullmatch(value):
        raise MarshmallowError("must be 1-32 characters of letters, digits, _ and -")


class Instant(fields.Field):
    """ISO 8601 date and time with an offset (or Z), loaded as naive UTC, as the database keeps times."""

    default_error_messages = {"invalid": "must be an ISO 8601 date and time with an offset, like 2025-10-11T21:00:00Z"}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not 10 <= len(value) <= 40:
            raise self.make_error("invalid")
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                raise ValueError("no offset")
            return parsed.astimezone(UTC).replace(tzinfo=None)
        except (ValueError, OverflowError):
            raise self.make_error("invalid") from None


class StrictInteger(fields.Integer):
    """A JSON integer: not a string, a float or a boolean."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, error_messages={"invalid": "must be an integer"}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """A JSON true or false, nothing that merely looks like one."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise MarshmallowError("must be true or false")
        return value


def _range(low, high):
    return validate.Range(low, high, error=f"must be between {low} and {high}")


class StatusIn(_Strict):
    """Body of set-status, REST and socket."""

    status = _string(required=True, validate=validate.OneOf(STATUSES, error=f"must be one of {', '.join(STATUSES)}"))
    message = _string(load_default="", validate=[
        validate.Length(max=140, error="must be at most 140 characters"), _text])
    reason_code = _string(load_default=None, allow_none=True, validate=_code, metadata={"pattern": f"^{CODE.pattern}$"})
    until = Instant(load_default=None, allow_none=True)
    for_minutes = StrictInteger(load_default=None, allow_none=True, validate=_range(1, 1440))

    @validates_schema
    def _one_deadline(self, data, **_kwargs):
        if data.get("until") is not None and data.get("for_minutes") is not None:
            raise MarshmallowError("give until or for_minutes, not both", "for_minutes")


class ActivityIn(_Strict):
    """Body of the activity event and POST /presence/activity/."""

    idle = StrictBoolean(required=True, error_messages={"required": "is required"})


class ChatIn(_Strict):
    """Body of typing and chat-room events; also the typing DELETE query."""

    chat_id = _string(required=True, validate=_chat_id, metadata={"pattern": f"^{CHAT_ID.pattern}$"})


class Empty(_Strict):
    """A body that must carry nothing (heartbeat)."""


class TokenIn(_Strict):
    """Body of the socket event refresh_token."""

    token = _string(required=True, validate=validate.Length(min=1, max=8192, error="must be 1-8192 characters"))


class LoginIn(_Strict):
    """Body of POST /auth/token."""

    email = _string(required=True, validate=[
        validate.Length(min=3, max=254, error="must be 3-254 characters"), _text])
    password = _string(required=True, validate=[
        validate.Length(min=1, max=1024, error="must be 1-1024 characters"), _encodable])


class RosterQuery(_Strict):
    """Filters of GET /presence/."""

    status = _string(validate=validate.OneOf(STATUSES, error=f"must be one of {', '.join(STATUSES)}"))
    available = fields.Boolean(truthy={"true", "1"}, falsy={"false", "0"},
                               error_messages={"invalid": "must be true or false"})


class ReasonCodeIn(_Strict):
    """One reason code of PUT /reason-codes/."""

    code = _string(required=True, validate=_code, metadata={"pattern": f"^{CODE.pattern}$"})
    label = _string(required=True, validate=[
        validate.Length(min=1, max=64, error="must be 1-64 characters"), _text])
    statuses = fields.List(
        _string(validate=validate.OneOf(STATUSES, error=f"must be one of {', '.join(STATUSES)}")), required=True,
        validate=validate.Length(min=1, error="must name at least one status"),
        error_messages={"required": "is required", "invalid": "must be a list"})
    max_minutes = StrictInteger(load_default=None, allow_none=True, validate=_range(1, 1440))

    @validates_schema
    def _distinct_statuses(self, data, **_kwargs):
        if len(set(data["statuses"])) != len(data["statuses"]):
            raise MarshmallowError("must not repeat a status", "statuses")


class ReasonCodesIn(_Strict):
    """Body of PUT /reason-codes/: the org's whole list."""

    codes = fields.List(fields.Nested(ReasonCodeIn), required=True,
                        validate=validate.Length(max=50, error="must hold at most 50 codes"),
                        error_messages={"required": "is required", "invalid": "must be a list"})

    @validates_schema
    def _distinct_codes(self, data, **_kwargs):
        codes = [c["code"] for c in data["codes"]]
        if len(set(codes)) != len(codes):
            raise MarshmallowError("must not repeat a code", "codes")


class Cursor(fields.String):
    """An opaque page cursor signed with the app's key: a forged or altered one is refused."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            if len(text) <= 256:
                return _cursor_signer().loads(text)
        except BadData:
            pass
        raise MarshmallowError("is not a valid cursor")


def _cursor_signer():
    return URLSafeSerializer(current_app.config["JWT_SECRET_KEY"], salt=CURSOR_SALT)


def make_cursor(payload):
    """The signed cursor of a page's continuation."""
    return _cursor_signer().dumps(payload)


class _Range(_Strict):
    since = Instant()
    until = Instant()

    @validates_schema
    def _ordered(self, data, **_kwargs):
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise MarshmallowError("must be after since", "until")


class HistoryQuery(_Range):
    """Query of GET /presence/<agent_id>/history/."""

    limit = fields.Integer(load_default=100, validate=_range(1, 1000), error_messages={"invalid": "must be an integer"})
    cursor = Cursor(error_messages={"invalid": "is not a valid cursor"})


class ReportQuery(_Range):
    """Query of GET /reports/time-in-status/."""

    since = Instant(required=True, error_messages={"required": "is required"})
    until = Instant(required=True, error_messages={"required": "is required"})
    agent_id = fields.Integer(validate=_range(1, MAX_ID), error_messages={"invalid": "must be an integer"})
    group_by = _string(load_default="agent", validate=validate.OneOf(("agent", "day"), error="must be agent or day"))
    format = _string(load_default="json", validate=validate.OneOf(("json", "csv"), error="must be json or csv"))

    @validates_schema
    def _at_most_a_month(self, data, **_kwargs):
        if data["until"] - data["since"] > timedelta(days=MAX_REPORT_DAYS):
            raise MarshmallowError(f"must be at most {MAX_REPORT_DAYS} days after since", "until")


def load(schema_class, data):
    """Validate `data` with the schema; raise the contract's validation_error."""
    if data is None:
        data = {}
    if _too_deep(data):
        raise ValidationError(f"JSON must not be nested deeper than {MAX_DEPTH} levels")
    try:
        return _instance(schema_class).load(data)
    except MarshmallowError as exc:
        details = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationError(_sentence(details), details) from None


@functools.cache
def _instance(schema_class):
    # A schema holds no state between loads; building one costs more than validating a small body.
    return schema_class()


def _load_nothing(schema_class):
    # An empty body (every REST heartbeat) always loads alike: validate it once per schema.
    loaded = _nothing_loaded(schema_class)
    return load(schema_class, {}) if loaded is None else dict(loaded)  # a refusal is raised afresh


@functools.cache
def _nothing_loaded(schema_class):
    try:
        return load(schema_class, {})
    except ValidationError:
        return None


def load_json(schema_class, raw: bytes):
    """Parse a request body as JSON whatever its Content-Type (the origin's curl sends none)."""
    if not raw.strip():
        return _load_nothing(schema_class)
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ValidationError(f"JSON must not be nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("body must be valid JSON") from None
    if not isinstance(data, dict):
        raise ValidationError("body must be a JSON object")
    return load(schema_class, data)


def _too_deep(data):
    """True if containers nest deeper than MAX_DEPTH (checked without recursion)."""
    level = [data]
    for _ in range(MAX_DEPTH):
        level = [child for node in level if isinstance(node, (dict, list))
                 for child in (node.values() if isinstance(node, dict) else node)]
        if not level:
            return False
    return any(isinstance(node, (dict, list)) for node in level)


def _sentence(details, prefix=""):
    parts = []
    for field, messages in details.items():
        if isinstance(messages, dict):  # a nested schema's errors: codes.0.label ...
            parts.append(_sentence(messages, f"{prefix}{field}."))
            continue
        message = messages[0] if isinstance(messages, list) else messages
        parts.append(message if field == "_schema" else f"{prefix}{field} {message}")
    return "; ".join(parts)


def iso(value):
    """ISO 8601 UTC with a Z, to the second."""
    # isoformat writes four-digit years (strftime's "%Y" writes 316 for 0316), and is the fastest.
    if not value:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds") + "Z"


def iso_epoch(seconds):
    """ISO 8601 UTC with a Z, of a Unix time."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def presence_object(row, now, timeout):
    """The contract's presence object, from a presence row and the database's now."""
    alive_until = (now - row.last_seen).total_seconds()
    return {
        "agent_id": row.agent_id,
        "name": row.name,
        "status": row.status,
        "status_message": row.status_message,
        "last_heartbeat": iso(row.last_heartbeat),
        "websocket_connected": row.websocket_connected,
        "connections": row.connections,
        "status_changed_at": iso(row.status_changed_at),
        "is_available": row.status == "online" and row.websocket_connected,
        "minutes_in_status": max(0, int((now - row.status_changed_at).total_seconds() // 60)),
        "is_inactive": row.connections == 0 and alive_until > timeout,
        "seq": row.seq,
        "reason_code": row.reason_code,
        # A timed-out agent's deadline waits for its resume; its offline does not expire.
        "status_until": None if row.timed_out else iso(row.status_until),
    }


def change_event(row):
    """Data of agent_presence_changed, from a row returned by a change."""
    return {
        "agent_id": row.agent_id,
        "status": row.status,
        "message": row.status_message,
        "timestamp": iso(row.changed_at),
        "name": row.name,
        "previous_status": row.previous_status,
        "websocket_connected": row.websocket_connected,
        "is_available": row.status == "online" and row.websocket_connected,
        "reason": row.change_reason,
        "seq": row.seq,
        "reason_code": row.reason_code,
    }


def typing_event(row):
    """Data of typing_start / typing_stop."""
    return {"chat_id": row.chat_id, "from": row.name, "agent_id": row.agent_id, "timestamp": iso(row.at)}
