"""The OpenAPI 3.1 document of the REST API, built from the views' `documented` marks and the schemas.

Request bodies and queries are the very marshmallow schemas that validate input (`schemas/`);
answers are the shapes of `shapes/`. The document is built once per app, on first use.
"""
import re
from dataclasses import dataclass, field

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from .http import MAX_AGENT_ID
from .schemas import base as schemas
from .shapes.base import Error

VERSION = "1.1.0"  # the contract's version
_CACHE = "presence_openapi"
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_ERRORS = {
    400: "Bad input: a body or query that breaks the contract's rules, or JSON nested too deep",
    401: "Missing, malformed, expired or otherwise invalid token (or wrong email or password); "
         "`agent_deactivated`: the token's agent has been deactivated",
    403: "Not allowed (`forbidden`)",
    404: "Unknown, or of another org",
    409: "No agent is available for assignment (`no_agent_available`)",
    413: "Body over 16 KiB (chunked ones included)",
    429: "Rate limit exceeded",
    503: "The database is unavailable; nothing was changed",
}
_ID = {"type": "string", "pattern": "^[A-Za-z0-9_]{1,40}$"}  # endpoint and message ids
_PATH_TYPES = {"agent_id": {"type": "integer", "minimum": 1, "maximum": MAX_AGENT_ID}}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "required": True,
                                "schema": {"type": "string", "pattern": r"^\d+$"}}}


@dataclass
class Doc:
    """What the document says of one view."""

    answer: object
    body: object = None
    query: object = None
    errors: tuple = ()
    public: bool = False
    tag: str = None  # default: the path's first segment under /api/v1
    media: str = "application/json"
    status: int = 200  # of a success (201: created)
    also: dict = field(default_factory=dict)  # more media types of the same answer: {"text/csv": schema}
    answers: dict = field(default_factory=dict)  # answers of other statuses: {503: schema}


def documented(answer, **kwargs):
    """Mark a view for the OpenAPI document: its answer, body and query schemas and error statuses."""
    def mark(view):
        view.apidoc = Doc(answer, **kwargs)
        return view
    return mark


def document(app):
    """The app's OpenAPI document (a dict), built on first use."""
    if _CACHE not in app.extensions:
        app.extensions[_CACHE] = _build(app)
    return app.extensions[_CACHE]


def register_fields(ma):
    """Teach apispec's converter the project's custom fields."""
    ma.map_to_openapi_type(schemas.Instant, "string", "date-time")
    ma.map_to_openapi_type(schemas.StrictInteger, "integer", None)
    ma.map_to_openapi_type(schemas.StrictBoolean, "boolean", None)


def _build(app):
    ma = MarshmallowPlugin()
    spec = APISpec("presence_app", VERSION, "3.1.0", plugins=[ma], info={
        "description": "Agent presence for customer-support chat. The Socket.IO events are in /api/v1/asyncapi.json."})
    register_fields(ma)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Error", schema=Error)
    for status, description in _ERRORS.items():
        response = {"description": description, "content": {"application/json": {"schema": "Error"}}}
        if status in (429, 503):
            response["headers"] = _RETRY_AFTER
        spec.components.response(f"E{status}", response)
    rules = sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
    docs = [(rule, getattr(app.view_functions[rule.endpoint], "apidoc", None)) for rule in rules]
    for body in {doc.body for _, doc in docs if doc is not None and hasattr(doc.body, "OPENAPI")}:
        # Rules across fields (a schema's OPENAPI: not both, at least one), beside what its fields say.
        spec.components.schema(ma.schema_name_resolver(body), body.OPENAPI, schema=body)
    for rule, doc in docs:
        if doc is not None:
            _add_path(spec, rule, doc, app.view_functions[rule.endpoint].__doc__)
    answer = spec.to_dict()
    answer["security"] = [{"bearer": []}]
    return answer


def _add_path(spec, rule, doc, docstring):
    operations = {}
    for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
        operations[method.lower()] = _operation(rule, doc, docstring)
    parameters = [{"in": "path", "name": name, "required": True, "schema": _PATH_TYPES.get(converter, _ID)}
                  for converter, name in _PARAM.findall(rule.rule)]
    spec.path(path=_PARAM.sub(r"{\2}", rule.rule), operations=operations, parameters=parameters or None)


def _operation(rule, doc, docstring):
    tag = doc.tag or rule.rule.removeprefix("/api/v1").strip("/").split("/")[0]
    operation = {"summary": (docstring or "").strip().splitlines()[0], "operationId": rule.endpoint.split(".")[-1],
                 "tags": [tag], "responses": {str(doc.status): _answer({doc.media: doc.answer, **doc.also})}}
    if doc.public:
        operation["security"] = []
    if doc.query is not None:
        operation["parameters"] = [{"in": "query", "schema": doc.query}]
    if doc.body is not None:
        required = any(f.required for f in doc.body._declared_fields.values()) or "minProperties" in getattr(
            doc.body, "OPENAPI", {})
        operation["requestBody"] = {"required": required, "content": {"application/json": {"schema": doc.body}}}
    for status, answer in doc.answers.items():
        operation["responses"][str(status)] = _answer({doc.media: answer}, "Answered with this body")
    for status in _errors(rule, doc):
        operation["responses"].setdefault(str(status), f"E{status}")
    return operation


def _answer(by_media, description="OK"):
    return {"description": description, "content": {media: {"schema": schema} for media, schema in by_media.items()}}


def _errors(rule, doc):
    statuses = set(doc.errors)
    if doc.body is not None:
        statuses |= {400, 413}
    if doc.query is not None:
        statuses.add(400)
    if _PARAM.search(rule.rule):
        statuses.add(404)
    if not doc.public:
        statuses |= {401, 429, 503}
    return sorted(statuses)
