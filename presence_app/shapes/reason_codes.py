"""Shapes of reason codes and their overrun alert."""
from marshmallow import fields, validate

from ..models import STATUSES
from .base import Shape, int_, list_, status_, str_, time_


class ReasonCode(Shape):
    """One reason code of an org."""

    code = str_()
    label = str_()
    statuses = fields.List(fields.String(validate=validate.OneOf(STATUSES)), required=True)
    max_minutes = int_(1, nullable=True)


class ReasonCodes(Shape):
    """An org's reason codes."""

    codes = list_(ReasonCode)


class OverrunData(Shape):
    """Data of agent_status_overrun, to the org's supervisors."""

    agent_id = int_(1)
    name = str_()
    status = status_()
    reason_code = str_()
    since = time_()
    max_minutes = int_(1)
