"""Shapes of webhook endpoints, their delivery log and a redelivery."""
from marshmallow import fields, validate

from ..webhook_models import EVENT_TYPES
from .base import Shape, bool_, const, int_, list_, str_, time_

SECRET = {"pattern": r"^whsec_[A-Za-z0-9+/]{43}=$", "description": "shown only when it is made"}


class Endpoint(Shape):
    """A webhook endpoint (never with its secret)."""

    id = str_()
    url = str_()
    events = fields.List(fields.String(validate=validate.OneOf(EVENT_TYPES)), required=True)
    description = str_()
    enabled = bool_(metadata={"description": "false once a 410 Gone or five days of failures disabled it"})
    created_at = time_()


class NewEndpoint(Endpoint):
    """POST /webhooks/: the endpoint and its secret, shown only here."""

    secret = str_(metadata=SECRET)


class RotatedEndpoint(NewEndpoint):
    """POST /webhooks/<id>/rotate-secret/: the new secret; the old one signs too until previous_secret_expires_at."""

    previous_secret_expires_at = time_()


class Endpoints(Shape):
    """GET /webhooks/."""

    endpoints = list_(Endpoint)


class Deleted(Shape):
    """DELETE /webhooks/<id>/."""

    id = str_()
    deleted = const(True)


class Delivery(Shape):
    """One attempt of a message."""

    id = int_(1)
    message_id = str_(metadata={"description": "the webhook-id header, the same on every attempt"})
    events = int_(1, metadata={"description": "how many events the message carries"})
    attempt = int_(1)
    status_code = int_(100, nullable=True)
    error = str_(nullable=True)
    at = time_()
    next_attempt_at = time_(nullable=True)


class Deliveries(Shape):
    """GET /webhooks/<id>/deliveries/: newest first."""

    deliveries = list_(Delivery)
    next_cursor = str_(nullable=True)


class Redelivery(Shape):
    """POST /webhooks/<id>/deliveries/<message_id>/redeliver/: when it goes again."""

    message_id = str_()
    next_attempt_at = time_()
