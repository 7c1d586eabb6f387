"""REST presence: each endpoint's happy path, the presence object, the ledger, org isolation, supervisors."""
import pytest
from sqlalchemy import select

from presence_app.extensions import db
from presence_app.models import PresenceChange

from .inprocess import backdate, silence
from .support import PRESENCE_FIELDS, assert_recent, bearer

ME = "/api/v1/presence/me/"
SET_STATUS = "/api/v1/presence/set-status/"
HEARTBEAT = "/api/v1/presence/heartbeat/"
ROSTER = "/api/v1/presence/"


def ledger(app, agent_id):
    """The agent's rows in presence_changes, oldest first, as tuples; every row has its time."""
    with app.app_context():
        rows = db.session.scalars(
            select(PresenceChange).where(PresenceChange.agent_id == agent_id).order_by(PresenceChange.seq)).all()
        for row in rows:
            assert row.at is not None
        return [(r.seq, r.from_status, r.to_status, r.message, r.websocket_connected, r.reason) for r in rows]


def set_status(client, sub, status, message=None, **claims):
    body = {"status": status} if message is None else {"status": status, "message": message}
    return client.post(SET_STATUS, json=body, headers=bearer(sub, **claims))


def assert_presence_of_joao(body, status, status_message, seq):
    """Agent 5's presence object field by field: João Silva, no heartbeat, no socket, status set just now."""
    assert set(body) == PRESENCE_FIELDS
    assert body["agent_id"] == 5
    assert body["name"] == "João Silva"
    assert body["status"] == status
    assert body["status_message"] == status_message
    assert body["last_heartbeat"] is None
    assert body["websocket_connected"] is False
    assert body["connections"] == 0
    assert_recent(body["status_changed_at"])
    assert body["is_available"] is False
    assert body["minutes_in_status"] == 0
    assert body["is_inactive"] is False
    assert body["seq"] == seq


def test_new_agent_starts_offline_and_the_presence_object_has_every_field(client):
    r = client.get(ME, headers=bearer(5, name="João Silva"))
    assert r.status_code == 200
    assert_presence_of_joao(r.json, "offline", "", seq=0)


def test_set_status_answers_the_presence_object_field_by_field(client):
    r = set_status(client, 5, "busy", "In a meeting until 3 pm", name="João Silva")
    assert r.status_code == 200
    assert_presence_of_joao(r.json, "busy", "In a meeting until 3 pm", seq=1)
    assert client.get(ME, headers=bearer(5, name="João Silva")).json == r.json


@pytest.mark.parametrize("status", ["online", "busy", "away"])
def test_each_status_can_be_set_and_is_read_back(client, status):
    assert set_status(client, 5, status).json["status"] == status
    assert client.get(ME, headers=bearer(5)).json["status"] == status


def test_set_status_without_message_sets_an_empty_message(client):
    set_status(client, 5, "busy", "In a meeting until 3 pm")
    body = set_status(client, 5, "busy").json
    assert body["status_message"] == ""
    assert body["seq"] == 2


def test_each_change_writes_one_ledger_row_and_bumps_seq_by_one(app, client):
    assert set_status(client, 5, "busy", "In a meeting").json["seq"] == 1
    assert set_status(client, 5, "busy", "Back at 3").json["seq"] == 2
    assert set_status(client, 5, "online").json["seq"] == 3
    assert set_status(client, 5, "offline").json["seq"] == 4
    assert ledger(app, 5) == [
        (1, "offline", "busy", "In a meeting", False, "manual"),
        (2, "busy", "busy", "Back at 3", False, "manual"),
        (3, "busy", "online", "", False, "manual"),
        (4, "online", "offline", "", False, "manual"),
    ]


def test_a_no_op_set_status_writes_no_ledger_row_and_keeps_seq(app, client):
    assert set_status(client, 5, "offline").json["seq"] == 0  # a new agent is offline already
    set_status(client, 5, "away", "Lunch")
    backdate(app, 5, status_changed_at=120)
    body = set_status(client, 5, "away", "Lunch").json
    assert body["seq"] == 1
    assert body["minutes_in_status"] == 2
    assert ledger(app, 5) == [(1, "offline", "away", "Lunch", False, "manual")]


def test_minutes_in_status_counts_from_the_status_change_not_the_message_change(app, client):
    set_status(client, 5, "busy", "In a meeting")
    backdate(app, 5, status_changed_at=19 * 60)
    assert client.get(ME, headers=bearer(5)).json["minutes_in_status"] == 19
    assert set_status(client, 5, "busy", "Still in a meeting").json["minutes_in_status"] == 19
    assert set_status(client, 5, "online").json["minutes_in_status"] == 0


def test_heartbeat_answers_my_presence_and_records_the_heartbeat(app, client):
    set_status(client, 5, "online", "Disponível")
    r = client.post(HEARTBEAT, headers=bearer(5))
    assert r.status_code == 200
    body = r.json
    assert set(body) == PRESENCE_FIELDS
    assert body["agent_id"] == 5
    assert body["status"] == "online"
    assert body["status_message"] == "Disponível"
    assert_recent(body["last_heartbeat"])
    assert body["seq"] == 1
    assert client.get(ME, headers=bearer(5)).json == body
    assert ledger(app, 5) == [(1, "offline", "online", "Disponível", False, "manual")]


def test_is_inactive_after_the_timeout_without_a_sign_of_life_and_a_heartbeat_revives(app, client):
    set_status(client, 5, "online")
    silence(app, 5)
    assert client.get(ME, headers=bearer(5)).json["is_inactive"] is True  # reading is no sign of life
    assert client.post(HEARTBEAT, headers=bearer(5)).json["is_inactive"] is False


def test_a_status_change_is_a_sign_of_life(app, client):
    client.get(ME, headers=bearer(5))
    silence(app, 5)
    assert client.get(ME, headers=bearer(5)).json["is_inactive"] is True
    assert set_status(client, 5, "busy").json["is_inactive"] is False


def _org_of_three(client):
    """Agents 1 online, 2 busy, 3 offline in the default org; agent 4 online in org "other"."""
    set_status(client, 1, "online", name="Ana")
    set_status(client, 2, "busy", "In a meeting", name="João")
    client.get(ME, headers=bearer(3, name="Maria"))
    set_status(client, 4, "online", org="other")


def test_roster_lists_my_org_with_count_and_server_time(client):
    _org_of_three(client)
    r = client.get(ROSTER, headers=bearer(1, name="Ana"))
    assert r.status_code == 200
    body = r.json
    assert set(body) == {"agents", "count", "server_time"}
    assert [a["agent_id"] for a in body["agents"]] == [1, 2, 3]
    assert [a["name"] for a in body["agents"]] == ["Ana", "João", "Maria"]
    assert [a["status"] for a in body["agents"]] == ["online", "busy", "offline"]
    assert all(set(a) == PRESENCE_FIELDS for a in body["agents"])
    assert body["count"] == 3
    assert_recent(body["server_time"])


@pytest.mark.parametrize("query, expected", [
    ("status=online", [1]),
    ("status=busy", [2]),
    ("status=offline", [3]),
    ("status=away", []),
    ("available=true", []),  # nobody has a live socket
    ("available=false", [1, 2, 3]),
    ("status=online&available=false", [1]),
    ("available=1", []),
    ("available=0", [1, 2, 3]),
])
def test_roster_filters(client, query, expected):
    _org_of_three(client)
    body = client.get(f"{ROSTER}?{query}", headers=bearer(1, name="Ana")).json
    assert [a["agent_id"] for a in body["agents"]] == expected
    assert body["count"] == len(expected)


def test_roster_of_an_empty_filter_still_has_server_time(client):
    body = client.get(f"{ROSTER}?status=away", headers=bearer(1)).json
    assert body["agents"] == [] and body["count"] == 0
    assert_recent(body["server_time"])


def test_one_agent_of_my_org(client):
    _org_of_three(client)
    r = client.get("/api/v1/presence/2/", headers=bearer(1, name="Ana"))
    assert r.status_code == 200
    assert set(r.json) == PRESENCE_FIELDS
    assert (r.json["agent_id"], r.json["name"], r.json["status"]) == (2, "João", "busy")
    assert r.json["status_message"] == "In a meeting"


def test_org_isolation_roster_and_lookup(client):
    _org_of_three(client)
    assert [a["agent_id"] for a in client.get(ROSTER, headers=bearer(4, org="other")).json["agents"]] == [4]
    for sub, org, other_id in ((1, None, 4), (4, "other", 1)):
        r = client.get(f"/api/v1/presence/{other_id}/", headers=bearer(sub, org=org))
        assert r.status_code == 404
        assert r.json["error"] == "not_found"
        assert set(r.json) == {"error", "message", "details"}


def test_an_id_of_another_org_answers_like_an_unknown_id(client):
    set_status(client, 4, "online", org="other")
    other = client.get("/api/v1/presence/4/", headers=bearer(1))
    unknown = client.get("/api/v1/presence/999/", headers=bearer(1))
    assert (other.status_code, other.json["error"], other.json["details"]) == (404, "not_found", {})
    assert (unknown.status_code, unknown.json["error"], unknown.json["details"]) == (404, "not_found", {})


def supervise(client, agent_id, body, sub=9, org=None, role="supervisor"):
    return client.post(f"/api/v1/presence/{agent_id}/set-status/", json=body,
                       headers=bearer(sub, name="Ana Supervisor", org=org, role=role))


def test_supervisor_sets_an_agents_status_with_reason_supervisor(app, client):
    client.get(ME, headers=bearer(2, name="João"))
    r = supervise(client, 2, {"status": "away", "message": "Covering the phone queue"})
    assert r.status_code == 200
    assert set(r.json) == PRESENCE_FIELDS
    assert (r.json["agent_id"], r.json["name"], r.json["status"]) == (2, "João", "away")
    assert r.json["status_message"] == "Covering the phone queue"
    assert r.json["seq"] == 1
    assert client.get(ME, headers=bearer(2, name="João")).json == r.json
    assert ledger(app, 2) == [(1, "offline", "away", "Covering the phone queue", False, "supervisor")]


def test_supervisor_set_status_without_message_sets_an_empty_message(client):
    set_status(client, 2, "busy", "In a meeting")
    assert supervise(client, 2, {"status": "busy"}).json["status_message"] == ""


def test_supervisor_no_op_writes_nothing(app, client):
    set_status(client, 2, "busy")
    assert supervise(client, 2, {"status": "busy"}).json["seq"] == 1
    assert len(ledger(app, 2)) == 1


def test_an_agent_may_not_set_another_agents_status(app, client):
    set_status(client, 2, "online")
    r = supervise(client, 2, {"status": "offline"}, sub=3, role=None)
    assert r.status_code == 403
    assert r.json["error"] == "forbidden"
    assert set(r.json) == {"error", "message", "details"}
    assert client.get(ME, headers=bearer(2)).json["status"] == "online"
    assert len(ledger(app, 2)) == 1


def test_a_supervisor_of_another_org_gets_404(app, client):
    set_status(client, 2, "online")
    r = supervise(client, 2, {"status": "offline"}, org="other")
    assert r.status_code == 404
    assert r.json["error"] == "not_found"
    assert client.get(ME, headers=bearer(2)).json["status"] == "online"
    assert len(ledger(app, 2)) == 1


def test_a_supervisor_setting_an_unknown_agent_gets_404(client):
    r = supervise(client, 999, {"status": "online"})
    assert r.status_code == 404
    assert r.json["error"] == "not_found"


def test_supervisor_set_status_validates_like_set_status(client):
    client.get(ME, headers=bearer(2))
    r = supervise(client, 2, {"status": "Away"})
    assert r.status_code == 400
    assert r.json["error"] == "validation_error"
    assert "status" in r.json["details"]


@pytest.mark.parametrize("path", ["/health", "/health/"])
def test_health_needs_no_token_and_says_the_database_answers(client, path):
    r = client.get(path)
    assert r.status_code == 200
    assert r.json == {"status": "ok", "database": "ok", "redis": "not configured", "mode": "embedded"}


# The origin's curl examples: `curl -d` sends application/x-www-form-urlencoded, not JSON.
CURL_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize("method, path, data, expected", [
    ("GET", "/api/v1/presence/me/", None, {"status": "offline"}),
    ("POST", "/api/v1/presence/set-status/", '{"status": "busy", "message": "In a meeting until 3 pm"}',
     {"status": "busy", "status_message": "In a meeting until 3 pm"}),
    ("POST", "/api/v1/presence/heartbeat/", None, {"agent_id": 5}),
    ("POST", "/api/v1/typing/", '{"chat_id": "5511999999999"}', {"chat_id": "5511999999999", "typing": True}),
    ("DELETE", "/api/v1/typing/?chat_id=xxx", None, {"chat_id": "xxx", "typing": False}),
])
def test_the_origins_curl_examples_work_as_written(client, method, path, data, expected):
    headers = dict(bearer(5), **CURL_FORM) if data is not None else bearer(5)
    r = client.open(path, method=method, data=data, headers=headers)
    assert r.status_code == 200
    assert {key: r.json[key] for key in expected} == expected
