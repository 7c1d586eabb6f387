"""The OpenAPI document: every REST route, from the validating schemas, browsable locally, true of a live server."""
import hashlib
import os
import re

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from presence_app import openapi
from presence_app.api import PUBLIC
from presence_app.schemas import auth, base, presence, reason_codes, reports, typing

from .support import ROOT, bearer

API = "/api/v1"
VENDOR = os.path.join(ROOT, "presence_app", "static", "vendor")
METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH"}
CALLER = 7  # the agent id of the live test's token
EXAMPLES_PER_OPERATION = 30  # per round: about 1,200 requests in all, about 35 s


def _path(rule):
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def _resolve(document, node):
    while "$ref" in node:
        name = node["$ref"].split("/")
        node = document[name[1]][name[2]][name[3]]
    return node


def test_document_is_public_openapi_31_and_names_every_rest_route_and_method(app, client):
    answer = client.get(f"{API}/openapi.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    document = answer.get_json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer",
                                                                   "bearerFormat": "JWT"}
    assert document["security"] == [{"bearer": []}]
    routes = {(_path(rule.rule), method.lower()) for rule in app.url_map.iter_rules()
              if rule.rule.startswith(API) or rule.rule == "/health" for method in rule.methods & METHODS}
    documented = {(path, method) for path, item in document["paths"].items() for method in item if method in
                  {m.lower() for m in METHODS}}
    assert documented == routes
    assert len(routes) >= 17


def test_document_is_valid_by_the_openapi_31_meta_schema(client):
    document = client.get(f"{API}/openapi.json").get_json()
    schemathesis.openapi.from_dict(document).validate()
    broken = dict(document, paths=dict(document["paths"], **{"/x": {"get": {"responses": {"200": {}}}}}))
    with pytest.raises(Exception, match="description"):  # the validation does look at what it is given
        schemathesis.openapi.from_dict(broken).validate()


def test_each_operation_lists_the_errors_it_can_answer_and_public_ones_need_no_token(app, client):
    document = client.get(f"{API}/openapi.json").get_json()
    public = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint in PUBLIC or rule.rule == "/health"}
    for path, item in document["paths"].items():
        for method, operation in ((m, o) for m, o in item.items() if m != "parameters"):
            statuses = set(operation["responses"])
            assert statuses & {"200", "201"}, (path, method)
            if path in {_path(p) for p in public}:
                assert operation["security"] == [], path
            else:
                assert "security" not in operation and {"401", "429", "503"} <= statuses, (path, method)
            if "requestBody" in operation:
                assert {"400", "413"} <= statuses, (path, method)
            if "{agent_id}" in path:
                assert "404" in statuses, (path, method)
            for status in statuses - {"200", "201"} - ({"503"} if path == "/health" else set()):
                body = _resolve(document, operation["responses"][status])["content"]["application/json"]["schema"]
                assert body == {"$ref": "#/components/schemas/Error"}, (path, method, status)
    assert set(document["paths"][f"{API}/reason-codes/"]["put"]["responses"]) >= {"403"}
    assert set(document["paths"][f"{API}/presence/{{agent_id}}/set-status/"]["post"]["responses"]) >= {"403"}
    error = document["components"]["schemas"]["Error"]
    assert sorted(error["required"]) == ["details", "error", "message"] and error["additionalProperties"] is False
    retry = document["components"]["responses"]["E429"]["headers"]["Retry-After"]
    assert retry["required"] is True


@pytest.mark.parametrize("path, method, schema", [
    ("/presence/set-status/", "post", presence.StatusIn), ("/presence/activity/", "post", presence.ActivityIn),
    ("/typing/", "post", typing.ChatIn), ("/reason-codes/", "put", reason_codes.ReasonCodesIn),
    ("/auth/token", "post", auth.LoginIn), ("/presence/heartbeat/", "post", base.Empty),
])
def test_request_bodies_are_the_schemas_that_validate_them(client, path, method, schema):
    document = client.get(f"{API}/openapi.json").get_json()
    body = document["paths"][API + path][method]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": f"#/components/schemas/{schema.__name__.removesuffix('Schema')}"}
    component = _resolve(document, body)
    fields = schema().fields
    assert set(component.get("properties", {})) == {f.data_key or name for name, f in fields.items()}
    assert set(component.get("required", [])) == {name for name, f in fields.items() if f.required}
    assert component["additionalProperties"] is False  # unknown fields are refused, and documented so


@pytest.mark.parametrize("path, schema", [
    ("/presence/", presence.RosterQuery), ("/presence/{agent_id}/history/", reports.HistoryQuery),
    ("/reports/time-in-status/", reports.ReportQuery),
])
def test_query_parameters_are_the_schemas_that_validate_them(client, path, schema):
    document = client.get(f"{API}/openapi.json").get_json()
    parameters = document["paths"][API + path]["get"]["parameters"]
    assert {p["name"] for p in parameters} == set(schema().fields)
    assert {p["name"] for p in parameters if p["required"]} == {n for n, f in schema().fields.items() if f.required}


def test_chat_ids_and_reason_codes_carry_their_patterns_which_match_the_validators(client):
    components = client.get(f"{API}/openapi.json").get_json()["components"]["schemas"]
    chat = re.compile(components["ChatIn"]["properties"]["chat_id"]["pattern"])
    code = re.compile(components["StatusIn"]["properties"]["reason_code"]["pattern"])
    for value in ("5511999999999", "a:b@c.d+e_f-g", "x" * 64):
        assert chat.search(value) and base.CHAT_ID.fullmatch(value)
    for value in ("", "x" * 65, "a b", "a/b", "ção"):
        assert not chat.search(value) and not base.CHAT_ID.fullmatch(value)
    assert code.search("lunch_1-x") and not code.search("x" * 33) and not code.search("a b")


def test_document_is_built_once_per_app(app, client):
    first = client.get(f"{API}/openapi.json").get_json()
    with app.app_context():
        assert openapi.document(app) is openapi.document(app)
    assert client.get(f"{API}/openapi.json").get_json() == first


def test_docs_page_is_swagger_ui_from_the_apps_own_files_under_a_strict_csp(client):
    page = client.get(f"{API}/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    csp = dict(part.strip().split(" ", 1) for part in page.headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["default-src"] == "'self'" and csp["connect-src"] == "'self'"
    html = page.get_data(as_text=True)
    assert "<script>" not in html and "swagger-ui" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert {"/static/vendor/swagger-ui-bundle.js", "/static/vendor/swagger-ui.css", "/static/docs/docs.js"} <= {*assets}
    for asset in assets:
        if asset.startswith("data:"):
            continue
        assert asset.startswith("/static/"), asset  # no CDN
        answer = client.get(asset)
        assert answer.status_code == 200 and len(answer.data) > 100, asset
        answer.close()
    init = client.get("/static/docs/docs.js").get_data(as_text=True)
    assert "SwaggerUIBundle(" in init and "openapi.json" in init


def _read(path, mode="r"):
    with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
        return handle.read()


def test_vendored_swagger_ui_matches_the_hashes_and_version_of_its_readme():
    readme = _read(os.path.join(VENDOR, "README.md"))
    row = next(line for line in readme.splitlines() if "swagger-ui-dist" in line and line.startswith("|"))
    version, hashes = re.search(r"\| (5\.\d+\.\d+) \|", row).group(1), re.findall(r"[0-9a-f]{64}", row)
    files = ("swagger-ui-bundle.js", "swagger-ui.css")
    assert [hashlib.sha256(_read(os.path.join(VENDOR, f), "rb")).hexdigest() for f in files] == hashes
    assert f'PACKAGE_VERSION:"{version}"' in _read(os.path.join(VENDOR, "swagger-ui-bundle.js"))
    for license_file in ("swagger-ui-LICENSE", "swagger-ui-NOTICE", "swagger-ui-bundle.js.LICENSE.txt"):
        assert os.path.getsize(os.path.join(VENDOR, license_file)) > 0


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


def _rounds(operation):
    """(name, strategy) of the requests to send: valid ones, invalid ones, and valid ones about the caller itself."""
    rounds = [("positive", operation.as_strategy(generation_mode=GenerationMode.POSITIVE))]
    # An operation without parameters or a body has no input to make invalid.
    if any(operation.iter_parameters()) or "requestBody" in operation.definition.raw:
        rounds.append(("negative", operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)))
    if "{agent_id}" in operation.path:  # random ids are all unknown (404): ask about the caller too
        rounds.append(("own", operation.as_strategy(path_parameters={"agent_id": CALLER})))
    return rounds


def _exercise(strategy, call):
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def exercise(case):
        call(case)

    exercise()


@pytest.mark.processes
def test_a_live_server_answers_every_operation_as_its_document_says(processes):
    """Schemathesis: valid and invalid requests to every operation, with a valid token; no 5xx, no surprise."""
    _, url = processes.web(API_RATE_LIMIT="100000 per second", LOGIN_RATE_LIMIT="100000 per minute")
    schema = schemathesis.openapi.from_url(f"{url}{API}/openapi.json")
    session, headers = requests.Session(), bearer(CALLER, name="Ana", role="supervisor", exp_in=3600)
    failures, answered = [], {}

    for result in schema.get_all_operations():
        operation = result.ok()
        for name, strategy in _rounds(operation):
            def call(case, key=(operation.label, name)):
                response = case.call_and_validate(session=session, headers=headers, checks=CHECKS)
                answered.setdefault(key, set()).add(response.status_code)

            try:
                _exercise(strategy, call)
            except Exception as exc:  # noqa: BLE001 - gather every operation's failure, then report them all
                failures.append(f"{operation.label} ({name}): {exc}")

    assert failures == [], "\n\n".join(failures)
    operations = {f"{method.upper()} {path}" for path, item in schema.raw_schema["paths"].items() for method in item
                  if method.upper() in METHODS}
    positive = {label: statuses for (label, name), statuses in answered.items() if name != "negative"}
    # Schemathesis leaves out the document's own URL; the tests above read it.
    assert set(positive) == operations - {f"GET {API}/openapi.json"}
    assert all(status < 500 for statuses in answered.values() for status in statuses)
    # Valid requests with a valid token reach the service's real work, not only its refusals.
    assert not any(401 in statuses for label, statuses in positive.items() if "auth/token" not in label), positive
    succeeded = {label for (label, name), statuses in answered.items() if name != "negative" and 200 in statuses}
    assert {f"GET {API}/presence/me/", f"POST {API}/presence/heartbeat/", f"GET {API}/presence/",
            f"POST {API}/presence/set-status/", f"POST {API}/presence/activity/", f"POST {API}/typing/",
            f"DELETE {API}/typing/", f"GET {API}/reason-codes/", f"PUT {API}/reason-codes/", f"GET {API}/settings/",
            f"GET {API}/presence/{{agent_id}}/", f"GET {API}/presence/{{agent_id}}/history/",
            f"POST {API}/presence/{{agent_id}}/set-status/", "GET /health"} <= succeeded, positive
