"""Reason codes: one code, and an org's whole list."""
from marshmallow import ValidationError as MarshmallowError, fields, validate, validates_schema

from ..models import STATUSES
from .base import CODE, TEXT_RULE, Strict, StrictInteger, check_code, check_text, int_range, string


class ReasonCodeIn(Strict):
    """One reason code of PUT /reason-codes/."""

    code = string(required=True, validate=check_code, metadata={"pattern": f"^{CODE.pattern}$"})
    label = string(required=True, validate=[
        validate.Length(min=1, max=64, error="must be 1-64 characters"), check_text], metadata=TEXT_RULE)
    statuses = fields.List(
        string(validate=validate.OneOf(STATUSES, error=f"must be one of {', '.join(STATUSES)}")), required=True,
        validate=validate.Length(min=1, error="must name at least one status"),
        error_messages={"required": "is required", "invalid": "must be a list"}, metadata={"uniqueItems": True})
    max_minutes = StrictInteger(load_default=None, allow_none=True, validate=int_range(1, 1440))

    @validates_schema
    def _distinct_statuses(self, data, **_kwargs):
        if len(set(data["statuses"])) != len(data["statuses"]):
            raise MarshmallowError("must not repeat a status", "statuses")


class ReasonCodesIn(Strict):
    """Body of PUT /reason-codes/: the org's whole list."""

    codes = fields.List(fields.Nested(ReasonCodeIn), required=True,
                        validate=validate.Length(max=50, error="must hold at most 50 codes"),
                        error_messages={"required": "is required", "invalid": "must be a list"},
                        metadata={"uniqueItems": True, "description": "each code at most once"})

    @validates_schema
    def _distinct_codes(self, data, **_kwargs):
        codes = [c["code"] for c in data["codes"]]
        if len(set(codes)) != len(codes):
            raise MarshmallowError("must not repeat a code", "codes")
