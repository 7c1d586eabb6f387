"""Shapes of routing: candidates, an assignment, a release."""
from marshmallow import fields

from .base import Shape, bool_, int_, list_, str_, time_
from .presence import Presence


class Candidates(Shape):
    """GET /routing/candidates/: agents available for assignment, in the order assign takes them."""

    agents = list_(Presence)
    server_time = time_()


class Assigned(Shape):
    """POST /routing/assign/: the agent the chat is assigned to (the same one on a repeat)."""

    agent = fields.Nested(Presence, required=True)
    chat_id = str_()


class Released(Shape):
    """POST /routing/release/: the chat's agent, and whether this call released it."""

    chat_id = str_()
    agent_id = int_(1)
    released = bool_(metadata={"description": "false when the chat was released already"})
