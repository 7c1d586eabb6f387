"""Routing: an agent's load, the candidates query, assign and release."""
from marshmallow import ValidationError as MarshmallowError, fields, validates_schema

from .base import CHAT_ID, MAX_ID, Strict, StrictInteger, check_chat_id, int_range, string

MAX_LOAD = 1000  # open chats and capacity of one agent
MAX_CANDIDATES = 100
TEAM_RULE = {"pattern": f"^{CHAT_ID.pattern}$"}  # team ids follow the chat ids' rule (and the token's)


def _team(**kwargs):
    return string(validate=check_chat_id, metadata=TEAM_RULE, **kwargs)


class LoadIn(Strict):
    """Body of PUT /presence/<agent_id>/load/: either or both; a null capacity returns to DEFAULT_CAPACITY."""

    open_chats = StrictInteger(validate=int_range(0, MAX_LOAD))
    capacity = StrictInteger(allow_none=True, validate=int_range(0, MAX_LOAD))
    OPENAPI = {"minProperties": 1}  # the OpenAPI document states _something

    @validates_schema
    def _something(self, data, **_kwargs):
        if not data:
            raise MarshmallowError("give open_chats, capacity or both")


class CandidatesQuery(Strict):
    """Query of GET /routing/candidates/."""

    team = _team()
    limit = fields.Integer(load_default=20, validate=int_range(1, MAX_CANDIDATES),
                           error_messages={"invalid": "must be an integer"})


class AssignIn(Strict):
    """Body of POST /routing/assign/: the chat, and optionally a team and a named agent."""

    chat_id = string(required=True, validate=check_chat_id, metadata={"pattern": f"^{CHAT_ID.pattern}$"})
    team = _team(load_default=None)
    agent_id = StrictInteger(load_default=None, validate=int_range(1, MAX_ID))


class ReleaseIn(Strict):
    """Body of POST /routing/release/."""

    chat_id = string(required=True, validate=check_chat_id, metadata={"pattern": f"^{CHAT_ID.pattern}$"})
