"""Authentication: every 401, identities from token claims, standalone login, the create-agent command."""
import time
import warnings

import jwt as pyjwt
import pytest

from presence_app.extensions import db
from presence_app.models import Agent

from .inprocess import count
from .support import ENVELOPE, SECRET, bearer, token

ME = "/api/v1/presence/me/"
LOGIN = "/api/v1/auth/token"


def raw_token(claims, key=SECRET, algorithm="HS256"):
    """A token with exactly these claims (exp added unless given or set to None)."""
    claims = dict(claims)
    if claims.get("exp", 0) is None:
        del claims["exp"]
    else:
        claims.setdefault("exp", int(time.time()) + 600)
    return pyjwt.encode(claims, key, algorithm=algorithm)


def hs512_token():
    """A token signed with the right secret but HS512, an algorithm the service does not accept."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pyjwt.warnings.InsecureKeyLengthWarning)
        return raw_token({"sub": "5", "name": "Agent 5"}, algorithm="HS512")


def auth(value):
    return {"Authorization": value}


def assert_401(r):
    assert r.status_code == 401, r.get_data(as_text=True)
    assert set(r.json) == ENVELOPE  # never flask-jwt-extended's 422 {"msg"}
    assert r.json["error"] == "unauthorized"
    assert r.json["message"]


AUTH_FAILURES = {
    "no header": dict,
    "empty header": lambda: auth(""),
    "not bearer": lambda: auth(f"Token {token(5)}"),
    "basic": lambda: auth("Basic dXNlcjpwYXNzd29yZA=="),
    "bearer without token": lambda: auth("Bearer "),
    "Bearer twice": lambda: auth(f"Bearer Bearer {token(5)}"),
    "not a jwt": lambda: auth("Bearer not-a-token"),
    "garbage segments": lambda: auth("Bearer abc.def.ghi"),
    "wrong signature": lambda: bearer(5, secret="another-secret-that-is-also-long-enough-for-hs256"),
    "alg none": lambda: auth("Bearer " + raw_token({"sub": "5", "name": "Agent 5"}, key=None, algorithm="none")),
    "signature stripped": lambda: auth("Bearer " + token(5).rsplit(".", 1)[0] + "."),
    "HS512": lambda: auth("Bearer " + hs512_token()),
    "expired": lambda: bearer(5, exp_in=-60),
    "no exp": lambda: auth("Bearer " + raw_token({"sub": "5", "name": "Agent 5", "exp": None})),
    "no sub": lambda: auth("Bearer " + raw_token({"name": "Agent 5"})),
    "sub not a number": lambda: bearer("abc"),
    "sub decimal": lambda: bearer("5.0"),
    "sub negative": lambda: bearer("-5"),
    "sub zero": lambda: bearer("0"),
    "sub padded": lambda: bearer(" 5"),
    "sub non-ascii digit": lambda: bearer("\u0665"),
    "sub too long": lambda: bearer("9" * 19),
    "sub an integer": lambda: auth("Bearer " + raw_token({"sub": 5, "name": "Agent 5"})),
    "empty name": lambda: bearer(5, name=" "),
    "name too long": lambda: bearer(5, name="x" * 121),
    "bad org": lambda: bearer(5, org="acme corp"),
    "bad role": lambda: bearer(5, role="admin"),
}


@pytest.mark.parametrize("case", list(AUTH_FAILURES))
def test_every_auth_failure_answers_401_in_the_envelope(app, client, case):
    assert_401(client.get(ME, headers=AUTH_FAILURES[case]()))
    assert count(app, Agent) == 0  # nobody is provisioned from a refused token


PROTECTED = [
    ("GET", "/api/v1/presence/me/", None),
    ("POST", "/api/v1/presence/set-status/", {"status": "online"}),
    ("POST", "/api/v1/presence/heartbeat/", None),
    ("GET", "/api/v1/presence/", None),
    ("GET", "/api/v1/presence/5/", None),
    ("POST", "/api/v1/presence/5/set-status/", {"status": "online"}),
    ("POST", "/api/v1/typing/", {"chat_id": "5511999999999"}),
    ("DELETE", "/api/v1/typing/?chat_id=5511999999999", None),
]


@pytest.mark.parametrize("method, path, body", PROTECTED)
def test_every_endpoint_needs_a_token(client, method, path, body):
    assert_401(client.open(path, method=method, json=body))


@pytest.mark.parametrize("method, path, body", PROTECTED)
def test_a_token_in_the_query_string_is_refused_on_every_endpoint(app, client, method, path, body):
    joiner = "&" if "?" in path else "?"
    r = client.open(f"{path}{joiner}token={token(5)}", method=method, json=body, headers=bearer(5))
    assert_401(r)
    assert "query string" in r.json["message"]
    assert count(app, Agent) == 0


@pytest.mark.parametrize("name", ["token", "access_token", "jwt", "auth"])
def test_a_token_in_the_query_string_is_refused_under_any_usual_name(app, client, name):
    r = client.get(f"{ME}?{name}={token(5)}", headers=bearer(5))  # even beside a valid header
    assert_401(r)
    assert count(app, Agent) == 0


def test_a_token_only_in_the_query_string_is_refused(client):
    assert_401(client.get(f"{ME}?token={token(5)}"))


def test_a_valid_token_creates_the_agent_from_its_claims(client):
    me = client.get(ME, headers=bearer(5, name="João Silva", org="acme", role="supervisor")).json
    assert (me["agent_id"], me["name"], me["status"]) == (5, "João Silva", "offline")
    roster = client.get("/api/v1/presence/", headers=bearer(6, org="acme")).json
    assert [a["agent_id"] for a in roster["agents"]] == [5, 6]


def test_absent_org_means_default_and_absent_name_has_a_fallback(client):
    bare = raw_token({"sub": "5"})
    assert client.get(ME, headers=auth(f"Bearer {bare}")).json["name"] == "Agent 5"
    roster = client.get("/api/v1/presence/", headers=bearer(6, org="default")).json
    assert [a["agent_id"] for a in roster["agents"]] == [5, 6]


def test_a_token_with_a_new_name_renames_the_agent(app, client):
    assert client.get(ME, headers=bearer(5, name="João")).json["name"] == "João"
    assert client.get(ME, headers=bearer(5, name="João Silva")).json["name"] == "João Silva"
    seen_by_colleague = client.get("/api/v1/presence/5/", headers=bearer(6)).json
    assert seen_by_colleague["name"] == "João Silva"
    assert seen_by_colleague["seq"] == 0  # a rename is not a presence change
    with app.app_context():
        assert db.session.get(Agent, 5).name == "João Silva"


def test_a_token_whose_org_differs_from_the_agents_is_refused(client):
    client.get(ME, headers=bearer(5, org="acme"))
    assert_401(client.get(ME, headers=bearer(5, org="other")))


def test_the_role_claim_decides_supervisor_rights(client):
    client.get(ME, headers=bearer(2))
    path = "/api/v1/presence/2/set-status/"
    assert client.post(path, json={"status": "away"}, headers=bearer(9)).status_code == 403
    assert client.post(path, json={"status": "away"}, headers=bearer(9, role="supervisor")).status_code == 200


def create_agent(runner, *args):
    return runner.invoke(args=["create-agent", *args])


def test_create_agent_then_log_in_and_use_the_token(client, runner):
    result = create_agent(runner, "--email", "Ana@Example.com", "--name", "Ana Souza", "--password", "s3cret-pass",
                          "--org", "acme", "--role", "supervisor", "--id", "42")
    assert result.exit_code == 0, result.output
    assert "created agent 42" in result.output

    r = client.post(LOGIN, json={"email": "ana@example.com", "password": "s3cret-pass"})
    assert r.status_code == 200
    body = r.json
    assert set(body) == {"access_token", "token_type", "expires_in", "agent_id", "name", "org", "role"}
    assert (body["token_type"], body["agent_id"], body["name"], body["org"], body["role"]) == (
        "Bearer", 42, "Ana Souza", "acme", "supervisor")
    assert body["expires_in"] == 12 * 3600

    header = pyjwt.get_unverified_header(body["access_token"])
    claims = pyjwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert header["alg"] == "HS256"
    assert (claims["sub"], claims["name"], claims["org"], claims["role"]) == ("42", "Ana Souza", "acme", "supervisor")
    assert claims["exp"] - time.time() == pytest.approx(12 * 3600, abs=60)

    me = client.get(ME, headers=auth(f"Bearer {body['access_token']}")).json
    assert (me["agent_id"], me["name"]) == (42, "Ana Souza")


def test_an_agent_created_in_teams_logs_in_with_them_and_keeps_them(client, runner):
    result = create_agent(runner, "--email", "bea@example.com", "--name", "Bea", "--password", "long-enough",
                          "--team", "sales", "--team", "billing")
    assert result.exit_code == 0, result.output
    token = client.post(LOGIN, json={"email": "bea@example.com", "password": "long-enough"}).json["access_token"]
    assert pyjwt.decode(token, SECRET, algorithms=["HS256"])["teams"] == ["billing", "sales"]

    me = client.get(ME, headers=auth(f"Bearer {token}")).json  # the login's token leaves the teams as they are
    assert me["teams"] == ["billing", "sales"]
    assert client.get("/api/v1/presence/?team=sales", headers=auth(f"Bearer {token}")).json["count"] == 1


def test_create_agent_refuses_a_bad_team(app, runner):
    result = create_agent(runner, "--email", "bea@example.com", "--name", "Bea", "--password", "long-enough",
                          "--team", "no spaces")
    assert result.exit_code != 0
    assert "teams must be" in result.output
    assert count(app, Agent) == 0


def test_create_agent_numbers_agents_when_no_id_is_given(client, runner):
    assert "created agent 1 " in create_agent(runner, "--email", "a@example.com", "--name", "A",
                                              "--password", "long-enough").output
    assert "created agent 2 " in create_agent(runner, "--email", "b@example.com", "--name", "B",
                                              "--password", "long-enough").output


@pytest.mark.parametrize("args, complaint", [
    (["--password", "short"], "at least 8"),
    (["--password", "long-enough", "--org", "acme corp"], "org"),
    (["--password", "long-enough", "--role", "admin"], "admin"),
])
def test_create_agent_refuses_bad_input(app, runner, args, complaint):
    result = create_agent(runner, "--email", "ana@example.com", "--name", "Ana", *args)
    assert result.exit_code != 0
    assert complaint in result.output
    assert count(app, Agent) == 0


def test_create_agent_refuses_a_taken_email(app, runner):
    create_agent(runner, "--email", "ana@example.com", "--name", "Ana", "--password", "long-enough")
    result = create_agent(runner, "--email", "ANA@example.com", "--name", "Ana 2", "--password", "long-enough")
    assert result.exit_code != 0
    assert "exists already" in result.output
    assert count(app, Agent) == 1


def test_login_with_a_wrong_password_or_unknown_email_is_401_alike(client, runner):
    create_agent(runner, "--email", "ana@example.com", "--name", "Ana", "--password", "long-enough")
    wrong = client.post(LOGIN, json={"email": "ana@example.com", "password": "not-the-one"})
    unknown = client.post(LOGIN, json={"email": "nobody@example.com", "password": "long-enough"})
    assert_401(wrong)
    assert_401(unknown)
    assert wrong.json["message"] == unknown.json["message"]  # no account enumeration


def test_login_reads_json_without_a_content_type(client, runner):
    create_agent(runner, "--email", "ana@example.com", "--name", "Ana", "--password", "long-enough")
    r = client.post(LOGIN, data='{"email": "ana@example.com", "password": "long-enough"}',
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"email": "ana@example.com"}, "password"),
    ({"password": "long-enough"}, "email"),
    ({"email": "ana@example.com", "password": "long-enough", "remember": True}, "remember"),
    ({"email": "ana@example.com", "password": ""}, "password"),
    ({"email": 5, "password": "long-enough"}, "email"),
])
def test_login_validates_its_body(client, body, field):
    r = client.post(LOGIN, json=body)
    assert r.status_code == 400
    assert set(r.json) == ENVELOPE
    assert r.json["error"] == "validation_error"
    assert field in r.json["details"]


def test_login_is_rate_limited_by_login_rate_limit(make_app):
    app = make_app(LOGIN_RATE_LIMIT="2 per minute")
    app.test_cli_runner().invoke(args=["create-agent", "--email", "ana@example.com", "--name", "Ana",
                                       "--password", "long-enough"])
    client = app.test_client()
    for _ in range(2):
        assert client.post(LOGIN, json={"email": "ana@example.com", "password": "wrong-one"}).status_code == 401
    r = client.post(LOGIN, json={"email": "ana@example.com", "password": "long-enough"})
    assert r.status_code == 429
    assert set(r.json) == ENVELOPE
    assert r.json["error"] == "too_many_requests"
    assert int(r.headers["Retry-After"]) > 0
