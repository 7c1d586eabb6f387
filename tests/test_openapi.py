"""The OpenAPI document: every REST route, from the validating schemas, browsable locally, true of a live server."""
import hashlib
import os
import re

import pytest
import schemathesis

from presence_app import openapi
from presence_app.api import PUBLIC
from presence_app.schemas import auth, base, presence, reason_codes, reports, typing

from .support import ROOT

API = "/api/v1"
VENDOR = os.path.join(ROOT, "presence_app", "static", "vendor")
METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH"}


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
        if asset.startswith("data:") or asset == "/api/v1/docs/events":  # a link to the events page
            continue
        assert asset.startswith("/static/"), asset  # no CDN
        answer = client.get(asset)
        assert answer.status_code == 200 and len(answer.data) > 100, asset
        answer.close()
    init = client.get("/static/docs/docs.js").get_data(as_text=True)
    assert "SwaggerUIBundle(" in init and "openapi.json" in init



def test_events_page_is_the_asyncapi_component_from_the_apps_own_files_linked_from_the_docs_page(client):
    page = client.get(f"{API}/docs/events")
    assert page.status_code == 200 and page.mimetype == "text/html"
    csp = dict(part.strip().split(" ", 1) for part in page.headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self' 'unsafe-eval'" and csp["default-src"] == "'self'"
    assert csp["connect-src"] == "'self'"
    html = page.get_data(as_text=True)
    assert "<script>" not in html
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    vendored = {"/static/vendor/asyncapi-standalone.js", "/static/vendor/asyncapi.css", "/static/docs/events.js"}
    assert vendored <= {*assets}
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert asset.startswith(("/static/", "/api/v1/docs", "data:")), asset  # no CDN
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200 and len(answer.data) > 100, asset
        answer.close()
    assert "asyncapi.json" in client.get("/static/docs/events.js").get_data(as_text=True)
    assert 'href="/api/v1/docs/events"' in client.get(f"{API}/docs").get_data(as_text=True)

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



def test_vendored_asyncapi_component_matches_the_hashes_of_its_readme():
    readme = _read(os.path.join(VENDOR, "README.md"))
    row = next(line for line in readme.splitlines() if "@asyncapi/react-component" in line and line.startswith("|"))
    files = ("asyncapi-standalone.js", "asyncapi.css")
    hashes = re.findall(r"[0-9a-f]{64}", row)
    assert [hashlib.sha256(_read(os.path.join(VENDOR, f), "rb")).hexdigest() for f in files] == hashes
    for license_file in ("asyncapi-LICENSE", "asyncapi-standalone.js.LICENSE.txt"):
        assert os.path.getsize(os.path.join(VENDOR, license_file)) > 0
