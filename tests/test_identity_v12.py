"""Identities of contract v1.2: teams from the token, the platform's `service` role, and snowflake-sized ids."""
import time

import jwt as pyjwt
import pytest

from presence_app.extensions import db, socketio
from presence_app.models import Agent, AgentTeam

from .inprocess import count, ledger
from .support import ENVELOPE, SECRET, bearer, token

ME = "/api/v1/presence/me/"
ROSTER = "/api/v1/presence/"
SNOWFLAKE = 2**63 - 1  # the largest id a path or a token's sub may carry


def teams_of(app, agent_id):
    with app.app_context():
        return sorted(db.session.scalars(db.select(AgentTeam.team).where(AgentTeam.agent_id == agent_id)))


def test_a_tokens_teams_are_stored_sorted_and_shown_in_the_presence_object(app, client):
    r = client.get(ME, headers=bearer(5, teams=["sales", "billing", "sales"]))
    assert r.status_code == 200, r.json
    assert r.json["teams"] == ["billing", "sales"]
    assert teams_of(app, 5) == ["billing", "sales"]
    assert client.get(ME, headers=bearer(6)).json["teams"] == []


@pytest.mark.parametrize("teams", [
    "billing", [1], [""], ["a b"], ["x" * 65], [f"t{i}" for i in range(21)], [["nested"]], {"billing": 1},
    ["bad\u202eteam"],
])
def test_a_bad_teams_claim_is_a_401_and_creates_nothing(app, client, teams):
    r = client.get(ME, headers=bearer(5, teams=teams))
    assert r.status_code == 401, r.json
    assert set(r.json) == ENVELOPE and r.json["error"] == "unauthorized" and "teams" in r.json["message"]
    assert count(app, Agent) == 0


def test_new_teams_are_a_change_of_the_agent_with_reason_profile_and_same_teams_are_none(app, client):
    first = client.get(ME, headers=bearer(5, teams=["billing"])).json
    again = client.get(ME, headers=bearer(5, teams=["billing"])).json
    assert again["seq"] == first["seq"]  # nothing changed: no change recorded
    moved = client.get(ME, headers=bearer(5, teams=["sales", "vip"])).json
    assert moved["teams"] == ["sales", "vip"]
    assert moved["seq"] == first["seq"] + 1
    assert ledger(app, 5)[-1][-1] == "profile"
    assert teams_of(app, 5) == ["sales", "vip"]
    left = client.get(ME, headers=bearer(5)).json
    assert (left["teams"], left["seq"]) == ([], first["seq"] + 2)
    assert teams_of(app, 5) == []


def test_a_profile_change_reaches_a_console_with_the_new_teams(app, client, connect):
    watcher = connect(9)
    watcher.get_received()
    client.get(ME, headers=bearer(5, teams=["billing"]))  # first sight: created, no change
    client.get(ME, headers=bearer(5, teams=["sales"]))
    changes = [m["args"][0]["data"] for m in watcher.get_received() if m["name"] == "agent_presence_changed"]
    assert [(c["agent_id"], c["reason"], c["teams"]) for c in changes] == [(5, "profile", ["sales"])]


def test_a_19_digit_sub_is_an_agent_and_one_past_the_largest_is_refused(client):
    r = client.get(ME, headers=bearer(SNOWFLAKE))
    assert r.status_code == 200 and r.json["agent_id"] == SNOWFLAKE
    assert client.get(f"/api/v1/presence/{SNOWFLAKE}/", headers=bearer(5)).json["agent_id"] == SNOWFLAKE
    assert client.get(ME, headers=bearer(SNOWFLAKE + 1)).status_code == 401


def service_headers(sub="platform-backend", org=None):
    return bearer(sub, org=org, role="service", name=None)


def test_a_service_token_reads_its_org_creates_no_agent_and_has_no_presence(app, client):
    client.get(ME, headers=bearer(5, org="acme"))
    client.get(ME, headers=bearer(6, org="other"))
    roster = client.get(ROSTER, headers=service_headers(org="acme"))
    assert roster.status_code == 200 and [a["agent_id"] for a in roster.json["agents"]] == [5]
    assert client.get("/api/v1/presence/5/", headers=service_headers(org="acme")).status_code == 200
    assert client.get("/api/v1/presence/6/", headers=service_headers(org="acme")).status_code == 404
    assert client.get("/api/v1/presence/5/history/", headers=service_headers(org="acme")).status_code == 200
    assert count(app, Agent) == 2
    for method, path, body in (("GET", ME, None), ("POST", "/api/v1/presence/heartbeat/", None),
                               ("POST", "/api/v1/presence/set-status/", {"status": "bogus"}),
                               ("POST", "/api/v1/typing/", {"chat_id": "x"}),
                               ("POST", "/api/v1/presence/5/set-status/", {"status": "bogus"}),
                               ("PUT", "/api/v1/reason-codes/", {"codes": "not a list"})):
        r = client.open(path, method=method, json=body, headers=service_headers(org="acme"))
        assert r.status_code == 403, (path, r.json)  # refused before its body is read
        assert set(r.json) == ENVELOPE and r.json["error"] == "forbidden"


def test_the_same_service_sub_serves_several_orgs_each_seeing_only_its_own(client):
    client.get(ME, headers=bearer(5, org="a"))
    client.get(ME, headers=bearer(6, org="a:b"))
    for org, ids in (("a", [5]), ("a:b", [6]), ("empty", [])):
        agents = client.get(ROSTER, headers=service_headers(org=org)).json["agents"]
        assert [a["agent_id"] for a in agents] == ids


def test_a_service_token_has_its_own_budget_not_an_agents(make_app):
    client = make_app(API_RATE_LIMIT="2 per minute", SERVICE_RATE_LIMIT="5 per minute").test_client()
    answers = [client.get(ROSTER, headers=service_headers()).status_code for _ in range(6)]
    assert answers == [200] * 5 + [429]
    assert client.get(ROSTER, headers=bearer(5)).status_code == 200  # agents count apart


@pytest.mark.parametrize("sub", ["", "x" * 256, "bad\u0000sub", 7, None])
def test_a_service_token_with_a_bad_sub_is_a_401(client, sub):
    claims = {"role": "service", "exp": int(time.time()) + 60, **({} if sub is None else {"sub": sub})}
    headers = {"Authorization": f"Bearer {pyjwt.encode(claims, SECRET, algorithm='HS256')}"}
    assert client.get(ROSTER, headers=headers).status_code == 401


def test_a_service_token_cannot_open_a_socket(app, client):
    sio = socketio.test_client(app, auth={"token": token("platform-backend", role="service")},
                               flask_test_client=client)
    assert not sio.is_connected()
    assert count(app, Agent) == 0
