"""Webhook endpoints: registering one, and the query of its delivery log."""
from marshmallow import ValidationError as MarshmallowError, fields, validate

from ..webhook_models import EVENT_TYPES
from .base import Cursor, Strict, check_text, int_range, string

MAX_URL = 2048


def _log_cursor(value):
    if not (isinstance(value, dict) and isinstance(value.get("before"), int)):
        raise MarshmallowError("is not a valid cursor")


def _unique(values):
    if len(set(values)) != len(values):
        raise MarshmallowError("must not repeat an event type")


class EndpointIn(Strict):
    """Body of POST /webhooks/: an https URL, the event types it wants (default: all), a description."""

    url = string(required=True, validate=validate.Length(1, MAX_URL, error=f"must be 1-{MAX_URL} characters"))
    events = fields.List(
        string(validate=validate.OneOf(EVENT_TYPES, error=f"must be one of {', '.join(EVENT_TYPES)}")),
        load_default=list(EVENT_TYPES), validate=[validate.Length(1, len(EVENT_TYPES),
                                                                  error="must list 1-4 event types"), _unique],
        error_messages={"invalid": "must be a list of event types"})
    description = string(load_default="", validate=[validate.Length(max=200, error="must be at most 200 characters"),
                                                    check_text])


class DeliveriesQuery(Strict):
    """Query of GET /webhooks/<id>/deliveries/."""

    limit = fields.Integer(load_default=20, validate=int_range(1, 100),
                           error_messages={"invalid": "must be an integer"})
    cursor = Cursor(validate=_log_cursor, error_messages={"invalid": "is not a valid cursor"})
