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


class StateData(Shape):
    """Data of presence_state: the org's roster, to a socket that just connected."""

    agents = list_(Presence)
    server_time = time_()


class DiffData(Shape):
    """Data of presence_diff: the latest change of each agent in one batch window."""

    changes = list_(ChangeData)
    server_time = time_()


class HeartbeatAck(Ack):
    """Ack of heartbeat."""

    server_time = time_()
    presence = fields.Nested(Presence, required=True)


class PresenceAck(Ack):
    """Ack of set_status and activity: the agent's presence."""

    presence = fields.Nested(Presence, required=True)


class SyncAck(Ack):
    """Ack of sync: the roster, and typing in the chats this socket joined."""

    agents = list_(Presence)
    typing = list_(TypingNow)
    server_time = time_()
