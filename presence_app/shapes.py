"""Shapes of what the service answers and emits, as marshmallow schemas for the API documents.

The views build their answers as plain dicts; these schemas only describe them, for the
OpenAPI and AsyncAPI documents (the tests hold every real answer and event to them).
"""
from marshmallow import RAISE, Schema, fields, validate

from .errors import vocabulary
from .models import REASONS, STATUSES

ISO_Z = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


def _time(nullable=False, **kwargs):
    return fields.String(required=True, allow_none=nullable,
                         metadata={"format": "date-time", "pattern": ISO_Z, **kwargs})


def _status(nullable=False):
    return fields.String(required=True, allow_none=nullable, validate=validate.OneOf(STATUSES))


def _int(minimum=0, nullable=False, **kwargs):
    return fields.Integer(required=True, allow_none=nullable, validate=validate.Range(min=minimum), **kwargs)


def _str(nullable=False, **kwargs):
    return fields.String(required=True, allow_none=nullable, **kwargs)


def _bool(**kwargs):
    return fields.Boolean(required=True, **kwargs)


def _list(schema):
    return fields.List(fields.Nested(schema), required=True)


def _const(value):
    field = fields.String if isinstance(value, str) else fields.Boolean
    return field(required=True, validate=validate.Equal(value))


class _Shape(Schema):
    class Meta:
        unknown = RAISE  # documented as additionalProperties: false, so a new field must be documented


class Presence(_Shape):
    """The presence object: REST answers, roster entries, presence_state entries and ack presence."""

    agent_id = _int(1)
    name = _str()
    status = _status()
    status_message = _str()
    last_heartbeat = _time(nullable=True)
    websocket_connected = _bool()
    connections = _int()
    status_changed_at = _time()
    is_available = _bool()
    minutes_in_status = _int()
    is_inactive = _bool()
    seq = _int()
    reason_code = _str(nullable=True)
    status_until = _time(nullable=True)


class Roster(_Shape):
    """GET /presence/: my org's agents."""

    agents = _list(Presence)
    count = _int()
    server_time = _time()


class Change(_Shape):
    """One row of an agent's ledger."""

    seq = _int(1)
    from_status = _status()
    to_status = _status()
    message = _str()
    reason = _str(validate=validate.OneOf(REASONS))
    reason_code = _str(nullable=True)
    websocket_connected = _bool()
    actor_id = _int(1, nullable=True)
    at = _time()


class History(_Shape):
    """An agent's changes, oldest first, and the cursor of the next page."""

    changes = _list(Change)
    next_cursor = _str(nullable=True)


class Seconds(_Shape):
    """Seconds in each status."""

    online = _int()
    busy = _int()
    away = _int()
    offline = _int()


class ReportRow(_Shape):
    """One agent's (or one agent-day's) time in status."""

    agent_id = _int(1)
    name = _str()
    day = fields.String(metadata={"pattern": r"^\d{4}-\d\d-\d\d$", "description": "with group_by=day only"})
    seconds = fields.Nested(Seconds, required=True)
    available_seconds = _int()
    by_reason_code = fields.Dict(keys=fields.String(), values=fields.Integer(validate=validate.Range(min=0)),
                                 required=True)


class Report(_Shape):
    """Time in status over [since, until)."""

    rows = _list(ReportRow)
    since = _time()
    until = _time()


class ReasonCode(_Shape):
    """One reason code of an org."""

    code = _str()
    label = _str()
    statuses = fields.List(fields.String(validate=validate.OneOf(STATUSES)), required=True)
    max_minutes = _int(1, nullable=True)


class ReasonCodes(_Shape):
    """An org's reason codes."""

    codes = _list(ReasonCode)


class TokenAnswer(_Shape):
    """A token of the standalone login."""

    access_token = _str()
    token_type = _const("Bearer")
    expires_in = _int(1)
    agent_id = _int(1)
    name = _str()
    org = _str()
    role = _str(validate=validate.OneOf(("agent", "supervisor")))


class Settings(_Shape):
    """What a console needs of the service's configuration."""

    idle_away_seconds = _int(1)


class TypingStarted(_Shape):
    """Typing started (`started` false: a silent renewal)."""

    chat_id = _str()
    typing = _const(True)
    started = _bool()


class TypingStopped(_Shape):
    """Typing stopped (`stopped` false: it was not typing)."""

    chat_id = _str()
    typing = _const(False)
    stopped = _bool()


class Health(_Shape):
    """Whether the process, its database and Redis answer."""

    status = _str(validate=validate.OneOf(("ok", "degraded", "error")))
    database = _str(validate=validate.OneOf(("ok", "error")))
    redis = _str(validate=validate.OneOf(("ok", "error", "not configured")))
    mode = _str(validate=validate.OneOf(("production", "embedded")))


class Error(_Shape):
    """The one error envelope of REST answers (and, with ok: false, of socket acks)."""

    error = _str(validate=validate.OneOf(vocabulary()))
    message = _str()
    details = fields.Dict(required=True)


# Socket.IO: the data of server events and the acks of client events.

class ChangeData(_Shape):
    """Data of agent_presence_changed (and each change of presence_diff)."""

    agent_id = _int(1)
    status = _status()
    message = _str()
    timestamp = _time()
    name = _str()
    previous_status = _status()
    websocket_connected = _bool()
    is_available = _bool()
    reason = _str(validate=validate.OneOf(REASONS))
    seq = _int(1)
    reason_code = _str(nullable=True)


class StateData(_Shape):
    """Data of presence_state: the org's roster, to a socket that just connected."""

    agents = _list(Presence)
    server_time = _time()


class DiffData(_Shape):
    """Data of presence_diff: the latest change of each agent in one batch window."""

    changes = _list(ChangeData)
    server_time = _time()


class TypingData(_Shape):
    """Data of typing_start and typing_stop, to the chat's room."""

    chat_id = _str()
    from_ = _str(data_key="from", metadata={"description": "the typing agent's display name"})
    agent_id = _int(1)
    timestamp = _time()


class ExpiredData(_Shape):
    """Data of session_expired: the socket's token expired; it is closed next."""

    expired_at = _time()


class OverrunData(_Shape):
    """Data of agent_status_overrun, to the org's supervisors."""

    agent_id = _int(1)
    name = _str()
    status = _status()
    reason_code = _str()
    since = _time()
    max_minutes = _int(1)


class TypingNow(_Shape):
    """Someone typing in a chat now."""

    chat_id = _str()
    agent_id = _int(1)
    from_ = _str(data_key="from")
    since = _time()


class _Ack(_Shape):
    ok = _const(True)


class ChatAck(_Ack):
    """Ack of leave_chat."""

    chat_id = _str()


class JoinAck(ChatAck):
    """Ack of join_chat: who is typing in that chat now."""

    typing = _list(TypingNow)


class TypingStartAck(_Ack, TypingStarted):
    """Ack of typing_start."""


class TypingStopAck(_Ack, TypingStopped):
    """Ack of typing_stop."""


class HeartbeatAck(_Ack):
    """Ack of heartbeat."""

    server_time = _time()
    presence = fields.Nested(Presence, required=True)


class PresenceAck(_Ack):
    """Ack of set_status and activity: the agent's presence."""

    presence = fields.Nested(Presence, required=True)


class SyncAck(_Ack):
    """Ack of sync: the roster, and typing in the chats this socket joined."""

    agents = _list(Presence)
    typing = _list(TypingNow)
    server_time = _time()


class RefreshAck(_Ack):
    """Ack of refresh_token: the session's new end."""

    expires_at = _time()


class ErrorAck(Error):
    """The ack of any refused client event: the error envelope with ok: false."""

    ok = _const(False)
