"""Queries of history and time-in-status reports."""
import re
from datetime import timedelta

from marshmallow import ValidationError as MarshmallowError, fields, validate, validates_schema

from .base import MAX_ID, Instant, Strict, int_range, string

MAX_REPORT_DAYS = 31
SEQ = re.compile(r"[0-9]{1,18}")  # a seq, below 2**63
# JSON Schema cannot compare two values: these rules are in the parameters' descriptions.
SINCE = "ISO 8601 with an offset; at or before until"
UNTIL = "ISO 8601 with an offset; at or after since"


def _check_seq(value):
    if not SEQ.fullmatch(value):
        raise MarshmallowError("must be the next_cursor of a page: up to 18 digits")


class _Range(Strict):
    since = Instant(metadata={"description": SINCE})
    until = Instant(metadata={"description": UNTIL})

    @validates_schema
    def _ordered(self, data, **_kwargs):
        # Equal is an empty range (nothing in it); before is a mistake worth telling.
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise MarshmallowError("must not be before since", "until")


class HistoryQuery(_Range):
    """Query of GET /presence/<agent_id>/history/."""

    limit = fields.Integer(load_default=100, validate=int_range(1, 1000),
                           error_messages={"invalid": "must be an integer"})
    cursor = string(validate=_check_seq, metadata={
        "pattern": f"^{SEQ.pattern}$", "description": "the next_cursor of the page before (the last seq it held)"})


class ReportQuery(_Range):
    """Query of GET /reports/time-in-status/."""

    since = Instant(required=True, error_messages={"required": "is required"}, metadata={"description": SINCE})
    until = Instant(required=True, error_messages={"required": "is required"}, metadata={
        "description": f"{UNTIL}, at most {MAX_REPORT_DAYS} days after it"})
    agent_id = fields.Integer(validate=int_range(1, MAX_ID), error_messages={"invalid": "must be an integer"})
    group_by = string(load_default="agent", validate=validate.OneOf(("agent", "day"), error="must be agent or day"))
    format = string(load_default="json", validate=validate.OneOf(("json", "csv"), error="must be json or csv"))

    @validates_schema
    def _at_most_a_month(self, data, **_kwargs):
        if data["until"] - data["since"] > timedelta(days=MAX_REPORT_DAYS):
            raise MarshmallowError(f"must be at most {MAX_REPORT_DAYS} days after since", "until")
