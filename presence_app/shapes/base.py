"""What every shape shares: field makers, the strict base, the error envelope and the acks' base.

The views build their answers as plain dicts; these schemas only describe them, for the OpenAPI
and AsyncAPI documents (the tests hold every real answer and event to them).
"""
from marshmallow import RAISE, Schema, fields, validate

from ..errors import vocabulary
from ..models import STATUSES

ISO_Z = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


def time_(nullable=False, **kwargs):
    """A required ISO 8601 UTC time ending in Z."""
    return fields.String(required=True, allow_none=nullable,
                         metadata={"format": "date-time", "pattern": ISO_Z, **kwargs})


def status_(nullable=False):
    """A required status, one of the four."""
    return fields.String(required=True, allow_none=nullable, validate=validate.OneOf(STATUSES))


def int_(minimum=0, nullable=False, **kwargs):
    """A required integer of at least `minimum`."""
    return fields.Integer(required=True, allow_none=nullable, validate=validate.Range(min=minimum), **kwargs)


def str_(nullable=False, **kwargs):
    """A required string."""
    return fields.String(required=True, allow_none=nullable, **kwargs)


def bool_(**kwargs):
    """A required boolean."""
    return fields.Boolean(required=True, **kwargs)


def list_(schema):
    """A required list of nested shapes."""
    return fields.List(fields.Nested(schema), required=True)


def const(value):
    """A required field that always holds `value`."""
    field = fields.String if isinstance(value, str) else fields.Boolean
    return field(required=True, validate=validate.Equal(value))


class Shape(Schema):
    """An answer's shape: every field documented, nothing more."""

    class Meta:
        unknown = RAISE  # documented as additionalProperties: false, so a new field must be documented


class Settings(Shape):
    """What a console needs of the service's configuration."""

    idle_away_seconds = int_(1)


class Health(Shape):
    """Whether the process, its database and Redis answer."""

    status = str_(validate=validate.OneOf(("ok", "degraded", "error", "draining")))
    database = str_(validate=validate.OneOf(("ok", "error")))
    redis = str_(validate=validate.OneOf(("ok", "error", "not configured")))
    mode = str_(validate=validate.OneOf(("production", "embedded")))


class Error(Shape):
    """The one error envelope of REST answers (and, with ok: false, of socket acks)."""

    error = str_(validate=validate.OneOf(vocabulary()))
    message = str_()
    details = fields.Dict(required=True)


class Ack(Shape):
    ok = const(True)


class ErrorAck(Error):
    """The ack of any refused client event: the error envelope with ok: false."""

    ok = const(False)
