"""Queries of history and time-in-status reports."""
from datetime import timedelta

from marshmallow import ValidationError as MarshmallowError, fields, validate, validates_schema

from .base import MAX_ID, Cursor, Instant, Strict, int_range, string

MAX_REPORT_DAYS = 31


class _Range(Strict):
    since = Instant()
    until = Instant()

    @validates_schema
    def _ordered(self, data, **_kwargs):
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise MarshmallowError("must be after since", "until")


class HistoryQuery(_Range):
    """Query of GET /presence/<agent_id>/history/."""

    limit = fields.Integer(load_default=100, validate=int_range(1, 1000),
                           error_messages={"invalid": "must be an integer"})
    cursor = Cursor(error_messages={"invalid": "is not a valid cursor"})


class ReportQuery(_Range):
    """Query of GET /reports/time-in-status/."""

    since = Instant(required=True, error_messages={"required": "is required"})
    until = Instant(required=True, error_messages={"required": "is required"})
    agent_id = fields.Integer(validate=int_range(1, MAX_ID), error_messages={"invalid": "must be an integer"})
    group_by = string(load_default="agent", validate=validate.OneOf(("agent", "day"), error="must be agent or day"))
    format = string(load_default="json", validate=validate.OneOf(("json", "csv"), error="must be json or csv"))

    @validates_schema
    def _at_most_a_month(self, data, **_kwargs):
        if data["until"] - data["since"] > timedelta(days=MAX_REPORT_DAYS):
            raise MarshmallowError(f"must be at most {MAX_REPORT_DAYS} days after since", "until")
