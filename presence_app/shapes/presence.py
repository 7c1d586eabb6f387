"""Shapes of presence: the presence object, rosters, change events, state, diffs and their acks."""
from marshmallow import fields, validate

from ..models import REASONS
from .base import Ack, Shape, bool_, int_, list_, status_, str_, time_
from .typing import TypingNow


class Presence(Shape):
    """The presence object: REST answers, roster entries, presence_state entries and ack presence."""

    agent_id = int_(1)
    name = str_()
    status = status_()
    status_message = str_()
    last_heartbeat = time_(nullable=True)
    websocket_connected = bool_()
    connections = int_()
    status_changed_at = time_()
    is_available = bool_()
    minutes_in_status = int_()
    is_inactive = bool_()
    seq = int_()
    reason_code = str_(nullable=True)
    status_until = time_(nullable=True)
    teams = fields.List(fields.String(), required=True, metadata={"description": "the agent's teams (token claim)"})
    open_chats = int_()
    capacity = int_()
    last_assigned_at = time_(nullable=True)
    available_for_assignment = bool_(metadata={"description": "is_available and open_chats < capacity"})


class Roster(Shape):
    """GET /presence/: my org's agents."""

    agents = list_(Presence)
    count = int_()
    server_time = time_()


class ChangeData(Shape):
    """Data of agent_presence_changed (and each change of presence_diff)."""

    agent_id = int_(1)
    status = status_()
    message = str_()
    timestamp = time_()
    name = str_()
    previous_status = status_()
    websocket_connected = bool_()
    is_available = bool_()
    reason = str_(validate=validate.OneOf(REASONS))
    seq = int_(1)
    reason_code = str_(nullable=True)
    teams = fields.List(fields.String(), required=True,
                        metadata={"description": "the agent's teams after the change (reason profile: they changed)"})


def cursor_():
    """The opaque cursor a later `sync {"since": cursor}` starts from."""
    return str_(metadata={"description": "opaque; sync {since: cursor} answers what changed after it"})


class StateData(Shape):
    """Data of presence_state: the roster of the socket's interest (its org, or its teams and agents, and itself)."""

    agents = list_(Presence)
    server_time = time_()
    cursor = cursor_()
    full = fields.Boolean(metadata={"description": "false only for a socket that connected with auth.since (a cursor "
                                                   "still known): agents are then those changed after it"})
    removed = fields.List(fields.Integer(), metadata={
        "description": "with full false: agents that left the roster after since (deactivated, or out of its teams)"})


class DiffData(Shape):
    """Data of presence_diff: the latest change of each covered agent in one batch window."""

    changes = list_(ChangeData)
    server_time = time_()
    cursor = cursor_()


class CountsOf(Shape):
    """How many agents are in each status, available, connected, and in all."""

    online = int_()
    busy = int_()
    away = int_()
    offline = int_()
    available = int_()
    connected = int_()
    total = int_()


class Counts(Shape):
    """The org's counts and each team's (GET /presence/counts/, and the data of presence_counts)."""

    org = fields.Nested(CountsOf, required=True)
    teams = fields.Dict(keys=fields.String(), values=fields.Nested(CountsOf), required=True)
    server_time = time_()


class HeartbeatAck(Ack):
    """Ack of heartbeat."""

    server_time = time_()
    presence = fields.Nested(Presence, required=True)


class PresenceAck(Ack):
    """Ack of set_status and activity: the agent's presence."""

    presence = fields.Nested(Presence, required=True)


class SyncAck(Ack):
    """Ack of sync: the roster (full) or what changed after `since` (not full), and typing in this socket's chats."""

    full = bool_(metadata={"description": "true: agents is the whole roster; false: only what changed"})
    agents = list_(Presence)
    removed = fields.List(fields.Integer(), metadata={
        "description": "not full: agents that left the roster after since (deactivated, or out of its teams)"})
    typing = list_(TypingNow)
    cursor = cursor_()
    server_time = time_()


class SubAck(Ack):
    """Ack of presence_sub: the roster the socket now hears."""

    agents = list_(Presence)
    cursor = cursor_()
    server_time = time_()
