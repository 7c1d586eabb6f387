"""What every schema shares: text rules, strict fields, loading with the contract's errors, and times."""
import functools
import json
import re
import time
from datetime import UTC, datetime

from marshmallow import RAISE, Schema, ValidationError as MarshmallowError, fields, validate

from ..errors import ValidationError

CHAT_ID = re.compile(r"[A-Za-z0-9_.:@+\-]{1,64}")
# C0 and C1 controls, line/paragraph separators, bidi overrides and isolates, and lone surrogates; written
# with regex escapes, so that the OpenAPI document's patterns carry the same rules as plain text.
_CONTROLS = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_SURROGATES = r"\ud800-\udfff"
FORBIDDEN_TEXT = re.compile(f"[{_CONTROLS}{_SURROGATES}]")
# A field's metadata: the text rules, in its schema. Surrogates have a pattern of their own: validators
# built on Rust's regex cannot compile them, and drop that pattern alone rather than both.
NO_SURROGATES = {"pattern": f"^[^{_SURROGATES}]*$"}
TEXT_RULE = {"pattern": f"^[^{_CONTROLS}]*$", "allOf": [NO_SURROGATES]}
MAX_DEPTH = 32
CODE = re.compile(r"[A-Za-z0-9_\-]{1,32}")
MAX_ID = 2**63 - 1


def text_problem(value):
    """Why `value` breaks the text rules of names and messages, or None."""
    found = FORBIDDEN_TEXT.search(value)
    if found is None:
        return None
    char = found.group()
    if "\ud800" <= char <= "\udfff":
        return "must not contain lone surrogates"
    if "\u202a" <= char <= "\u202e" or "\u2066" <= char <= "\u2069":
        return "must not contain bidirectional overrides or isolates"
    return "must not contain control characters"


def check_text(value):
    """Marshmallow validator of the text rules."""
    problem = text_problem(value)
    if problem:
        raise MarshmallowError(problem)


def check_chat_id(value):
    """Marshmallow validator of chat ids."""
    if not CHAT_ID.fullmatch(value):
        raise MarshmallowError("must be 1-64 characters of letters, digits and _.:@+-")


def string(required=False, **kwargs):
    """A string field with the contract's error wording."""
    messages = {"required": "is required", "invalid": "must be a string", "null": "must be a string"}
    return fields.String(required=required, error_messages=messages, **kwargs)


class Strict(Schema):
    """A schema that refuses unknown fields, with the contract's wording."""

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "is not allowed", "type": "body must be a JSON object"}


def check_code(value):
    """Marshmallow validator of reason codes."""
    if not CODE.fullmatch(value):
        raise MarshmallowError("must be 1-32 characters of letters, digits, _ and -")


# The years an instant may name: any offset then stays within what dates and a day's arithmetic hold
# (the year 9999 overflowed them: a 500). The OpenAPI document carries the same pattern.
INSTANT_YEAR = re.compile(r"[1-8][0-9]{3}-")


class Instant(fields.Field):
    """ISO 8601 date and time with an offset (or Z), in the years 1000-8999, loaded as naive UTC (as stored)."""

    default_error_messages = {"invalid": "must be an ISO 8601 date and time with an offset, like 2025-10-11T21:00:00Z",
                              "range": "must be in the years 1000 to 8999"}

    def __init__(self, **kwargs):
        metadata = {"pattern": f"^{INSTANT_YEAR.pattern}", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not 10 <= len(value) <= 40 or not re.match(r"[0-9]{4}-", value):
            raise self.make_error("invalid")
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                raise ValueError("no offset")
        except ValueError:
            raise self.make_error("invalid") from None
        if not INSTANT_YEAR.match(value):
            raise self.make_error("range")
        return parsed.astimezone(UTC).replace(tzinfo=None)


class StrictInteger(fields.Integer):
    """A JSON integer: not a string, a float or a boolean."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, error_messages={"invalid": "must be an integer"}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # 5.0 is an integer to JSON Schema, so to the OpenAPI document too
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(fields.Boolean):
    """A JSON true or false, nothing that merely looks like one."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise MarshmallowError("must be true or false")
        return value


def int_range(low, high):
    """A range validator with the contract's wording."""
    return validate.Range(low, high, error=f"must be between {low} and {high}")


class Empty(Strict):
    """A body that must carry nothing (heartbeat)."""


def load(schema_class, data):
    """Validate `data` with the schema; raise the contract's validation_error."""
    if data is None:
        data = {}
    if _too_deep(data):
        raise ValidationError(f"JSON must not be nested deeper than {MAX_DEPTH} levels")
    try:
        return _instance(schema_class).load(data)
    except MarshmallowError as exc:
        details = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationError(_sentence(details), details) from None


@functools.cache
def _instance(schema_class):
    # A schema holds no state between loads; building one costs more than validating a small body.
    return schema_class()


def _load_nothing(schema_class):
    # An empty body (every REST heartbeat) always loads alike: validate it once per schema.
    loaded = _nothing_loaded(schema_class)
    return load(schema_class, {}) if loaded is None else dict(loaded)  # a refusal is raised afresh


@functools.cache
def _nothing_loaded(schema_class):
    try:
        return load(schema_class, {})
    except ValidationError:
        return None


def load_json(schema_class, raw: bytes):
    """Parse a request body as JSON whatever its Content-Type (the origin's curl sends none)."""
    if not raw.strip():
        return _load_nothing(schema_class)
    try:
        data = json.loads(raw)
    except RecursionError:
        raise ValidationError(f"JSON must not be nested deeper than {MAX_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError):
        raise ValidationError("body must be valid JSON") from None
    if not isinstance(data, dict):
        raise ValidationError("body must be a JSON object")
    return load(schema_class, data)


def _too_deep(data):
    """True if containers nest deeper than MAX_DEPTH (checked without recursion)."""
    level = [data]
    for _ in range(MAX_DEPTH):
        level = [child for node in level if isinstance(node, (dict, list))
                 for child in (node.values() if isinstance(node, dict) else node)]
        if not level:
            return False
    return any(isinstance(node, (dict, list)) for node in level)


def _sentence(details, prefix=""):
    parts = []
    for field, messages in details.items():
        if isinstance(messages, dict):  # a nested schema's errors: codes.0.label ...
            parts.append(_sentence(messages, f"{prefix}{field}."))
            continue
        message = messages[0] if isinstance(messages, list) else messages
        parts.append(message if field == "_schema" else f"{prefix}{field} {message}")
    return "; ".join(parts)


def iso(value):
    """ISO 8601 UTC with a Z, to the second."""
    # isoformat writes four-digit years (strftime's "%Y" writes 316 for 0316), and is the fastest.
    if not value:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="seconds") + "Z"


def iso_epoch(seconds):
    """ISO 8601 UTC with a Z, of a Unix time."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))
