"""Shapes of sessions: login answers, session expiry and token refresh."""
from marshmallow import validate

from .base import Ack, Shape, const, int_, str_, time_


class TokenAnswer(Shape):
    """A token of the standalone login."""

    access_token = str_()
    token_type = const("Bearer")
    expires_in = int_(1)
    agent_id = int_(1)
    name = str_()
    org = str_()
    role = str_(validate=validate.OneOf(("agent", "supervisor")))


class ExpiredData(Shape):
    """Data of session_expired: the socket's token expired; it is closed next."""

    expired_at = time_()


class RefreshAck(Ack):
    """Ack of refresh_token: the session's new end."""

    expires_at = time_()
