"""Webhook endpoints: registering one, and the query of its delivery log."""
from marshmallow import ValidationError as MarshmallowError, fields, validate

from ..webhook_models import EVENT_TYPES
from .base import TEXT_RULE, Strict, check_text, int_range, string
from .reports import SEQ

MAX_URL = 2048


def _check_cursor(value):
    if not SEQ.fullmatch(value):
        raise MarshmallowError("must be the next_cursor of a page: up to 18 digits")


def _unique(values):
    if len(set(values)) != len(values):
        raise MarshmallowError("must not repeat an event type")


class EndpointIn(Strict):
    """Body of POST /webhooks/: an https URL, the event types it wants (default: all), a description."""

    url = string(required=True, validate=validate.Length(1, MAX_URL, error=f"must be 1-{MAX_URL} characters"),
                 metadata={"format": "uri", "pattern": "^https?://[^/?#@:]+(:[0-9]{1,5})?([/?#]|$)", "description":
                           "https, no credentials, a host that resolves to public addresses only (http and private "
                           "addresses with WEBHOOK_ALLOW_PRIVATE, development only)"})
    events = fields.List(
        string(validate=validate.OneOf(EVENT_TYPES, error=f"must be one of {', '.join(EVENT_TYPES)}")),
        load_default=list(EVENT_TYPES), validate=[validate.Length(1, len(EVENT_TYPES),
                                                                  error="must list 1-4 event types"), _unique],
        error_messages={"invalid": "must be a list of event types"}, metadata={"uniqueItems": True})
    description = string(load_default="", validate=[validate.Length(max=200, error="must be at most 200 characters"),
                                                    check_text], metadata=TEXT_RULE)


class DeliveriesQuery(Strict):
    """Query of GET /webhooks/<id>/deliveries/."""

    limit = fields.Integer(load_default=20, validate=int_range(1, 100),
                           error_messages={"invalid": "must be an integer"})
    cursor = string(validate=_check_cursor,
                    metadata={"pattern": f"^{SEQ.pattern}$", "description": "the next_cursor of the page before"})
