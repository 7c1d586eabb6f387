"""Presence: set-status, activity, roster filters; the presence object and the change event."""
from marshmallow import ValidationError as MarshmallowError, fields, validate, validates_schema

from ..models import STATUSES
from .base import (
    CHAT_ID,
    CODE,
    MAX_ID,
    TEXT_RULE,
    Instant,
    Strict,
    StrictBoolean,
    StrictInteger,
    check_chat_id,
    check_code,
    check_text,
    int_range,
    iso,
    string,
)


class StatusIn(Strict):
    """Body of set-status, REST and socket."""

    status = string(required=True, validate=validate.OneOf(STATUSES, error=f"must be one of {', '.join(STATUSES)}"))
    message = string(load_default="", validate=[
        validate.Length(max=140, error="must be at most 140 characters"), check_text], metadata=TEXT_RULE)
    reason_code = string(load_default=None, allow_none=True, validate=check_code,
                         metadata={"pattern": f"^{CODE.pattern}$", "description":
                                   "one of the org's reason codes (GET /reason-codes/) that allows this status"})
    until = Instant(load_default=None, allow_none=True, metadata={
        "description": "ISO 8601 with an offset, after the server's now and at most 24 hours ahead of it"})
    for_minutes = StrictInteger(load_default=None, allow_none=True, validate=int_range(1, 1440))
    # The OpenAPI document states _one_deadline: not both (given and not null).
    OPENAPI = {"not": {"required": ["until", "for_minutes"],
                       "properties": {"until": {"type": "string"}, "for_minutes": {"type": "integer"}}}}

    @validates_schema
    def _one_deadline(self, data, **_kwargs):
        if data.get("until") is not None and data.get("for_minutes") is not None:
            raise MarshmallowError("give until or for_minutes, not both", "for_minutes")


class ActivityIn(Strict):
    """Body of the activity event and POST /presence/activity/."""

    idle = StrictBoolean(required=True, error_messages={"required": "is required"})


class RosterQuery(Strict):
    """Filters of GET /presence/."""

    status = string(validate=validate.OneOf(STATUSES, error=f"must be one of {', '.join(STATUSES)}"))
    available = fields.Boolean(truthy={"true", "1"}, falsy={"false", "0"},
                               error_messages={"invalid": "must be true or false"})
    team = string(validate=check_chat_id, metadata={"pattern": f"^{CHAT_ID.pattern}$",
                                                      "description": "only the members of this team"})


def _list(field, most):
    return fields.List(field, load_default=None, error_messages={"invalid": "must be a list"},
                       metadata={"maxItems": most, "description": f"at most {most} (more: limit_exceeded)"})


class SubscribeIn(Strict):
    """A socket's subscription (auth.subscribe): teams and agents it covers, besides its own agent."""

    teams = _list(string(validate=check_chat_id, metadata={"pattern": f"^{CHAT_ID.pattern}$"}), 20)
    agent_ids = _list(StrictInteger(validate=int_range(1, MAX_ID)), 500)


class PresenceSubIn(SubscribeIn):
    """Body of presence_sub: the whole subscription again ({} is the whole org), and counts on or off."""

    counts = StrictBoolean(load_default=None)


class SyncIn(Strict):
    """Body of sync: `since`, a cursor, asks only for what changed after it."""

    since = string(validate=validate.Length(max=64, error="must be at most 64 characters"))


COUNT_KEYS = (*STATUSES, "available", "connected", "total")
# A cursor stands for "every change committed before this instant"; a change is stamped with its
# statement's time but may commit a little later, so a cursor reaches back this far.
CURSOR_MARGIN_SECONDS = 10
CURSOR_PREFIX = "v1."


def cursor_at(epoch_seconds):
    """The opaque cursor of the database instant `epoch_seconds` (it reaches back CURSOR_MARGIN_SECONDS)."""
    return f"{CURSOR_PREFIX}{int((epoch_seconds - CURSOR_MARGIN_SECONDS) * 1000)}"


def cursor_instant(cursor):
    """The epoch seconds a cursor stands for, or None if it is not one of ours."""
    if not isinstance(cursor, str) or not cursor.startswith(CURSOR_PREFIX):
        return None
    digits = cursor[len(CURSOR_PREFIX):]
    return int(digits) / 1000 if digits.isdigit() and len(digits) <= 13 else None  # 13: until the year 2286


def blank():
    """Counts of nobody."""
    return dict.fromkeys(COUNT_KEYS, 0)


def tally(counts, status, connected, n=1):
    """Add `n` agents of `status` (connected or not) to `counts`."""
    counts[status] += n
    counts["connected"] += n if connected else 0
    counts["available"] += n if connected and status == "online" else 0
    counts["total"] += n


def teams_of(row):
    """The teams of a presence row (stored sorted and space-separated) as a list."""
    return row.teams.split() if row.teams else []


def presence_object(row, now, timeout, default_capacity):
    """The contract's presence object, from a presence row and the database's now."""
    alive_until = (now - row.last_seen).total_seconds()
    available = row.status == "online" and row.websocket_connected
    capacity = default_capacity if row.capacity is None else row.capacity
    return {
        "agent_id": row.agent_id,
        "name": row.name,
        "status": row.status,
        "status_message": row.status_message,
        "last_heartbeat": iso(row.last_heartbeat),
        "websocket_connected": row.websocket_connected,
        "connections": row.connections,
        "status_changed_at": iso(row.status_changed_at),
        "is_available": available,
        "minutes_in_status": max(0, int((now - row.status_changed_at).total_seconds() // 60)),
        "is_inactive": row.connections == 0 and alive_until > timeout,
        "seq": row.seq,
        "reason_code": row.reason_code,
        # A timed-out agent's deadline waits for its resume; its offline does not expire.
        "status_until": None if row.timed_out else iso(row.status_until),
        "teams": teams_of(row),
        "open_chats": row.open_chats,
        "capacity": capacity,
        "last_assigned_at": iso(row.last_assigned_at),
        "available_for_assignment": available and row.open_chats < capacity,
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
        "teams": teams_of(row),
    }
