"""Shapes of records: an agent's history and time-in-status reports."""
from marshmallow import fields, validate

from ..models import REASONS
from .base import Shape, bool_, int_, list_, status_, str_, time_


class Change(Shape):
    """One row of an agent's ledger."""

    seq = int_(1)
    from_status = status_()
    to_status = status_()
    message = str_()
    reason = str_(validate=validate.OneOf(REASONS))
    reason_code = str_(nullable=True)
    websocket_connected = bool_()
    actor_id = int_(1, nullable=True)
    at = time_()


class History(Shape):
    """An agent's changes, oldest first, and the cursor of the next page."""

    changes = list_(Change)
    next_cursor = str_(nullable=True)


class Seconds(Shape):
    """Seconds in each status."""

    online = int_()
    busy = int_()
    away = int_()
    offline = int_()


class ReportRow(Shape):
    """One agent's (or one agent-day's) time in status."""

    agent_id = int_(1)
    name = str_()
    day = fields.String(metadata={"pattern": r"^\d{4}-\d\d-\d\d$", "description": "with group_by=day only"})
    seconds = fields.Nested(Seconds, required=True)
    available_seconds = int_()
    by_reason_code = fields.Dict(keys=fields.String(), values=fields.Integer(validate=validate.Range(min=0)),
                                 required=True)


class Report(Shape):
    """Time in status over [since, until)."""

    rows = list_(ReportRow)
    since = time_()
    until = time_()
