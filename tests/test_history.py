"""Audit and history: who made each change (actor_id), and one agent's ledger read back page by page."""
from datetime import UTC, datetime, timedelta

import pytest

from presence_app import jobs

from .inprocess import GRACE, backdate, record, run_job, silence
from .support import ISO_Z, bearer

SUP = 90
FIELDS = ["seq", "from_status", "to_status", "message", "reason", "reason_code", "websocket_connected", "actor_id",
          "at"]


@pytest.fixture
def app(make_app):
    """Short timeout and grace, so the system's own changes can be made to happen."""
    return make_app(PRESENCE_TIMEOUT_SECONDS=0.5, DISCONNECT_GRACE_SECONDS=GRACE)


def history(client, agent_id, sub=SUP, role="supervisor", org=None, **query):
    return client.get(f"/api/v1/presence/{agent_id}/history/", query_string=query,
                      headers=bearer(sub, role=role, org=org))


def post(client, path, body, sub=5, **claims):
    r = client.post(f"/api/v1/presence/{path}", json=body, headers=bearer(sub, **claims))
    assert r.status_code == 200, r.json
    return r.json


def test_every_change_records_who_made_it(app, client, connect):
    sio = connect(5)                                                        # connected: the agent
    post(client, "set-status/", {"status": "online"})                       # manual: the agent
    post(client, "activity/", {"idle": True})                               # idle: the agent's console
    post(client, "activity/", {"idle": False})                              # active: the agent's console
    post(client, "5/set-status/", {"status": "busy", "for_minutes": 5}, sub=SUP, role="supervisor")  # supervisor
    backdate(app, 5, status_until=600)
    assert run_job(app, jobs.expire_statuses) == 1                          # expired: the system
    sio.disconnect()
    backdate(app, 5, disconnected_at=60)
    run_job(app, jobs.maintain_connections)                                 # disconnected: the system
    silence(app, 5)
    assert run_job(app, jobs.check_agent_presence_timeout) == 1             # timeout: the system
    client.post("/api/v1/presence/heartbeat/", headers=bearer(5))           # resumed: the agent

    r = history(client, 5)

    assert r.status_code == 200
    got = [(c["reason"], c["to_status"], c["actor_id"]) for c in r.json["changes"]]
    assert got == [("connected", "offline", 5), ("manual", "online", 5), ("idle", "away", 5),
                   ("active", "online", 5), ("supervisor", "busy", SUP), ("expired", "online", None),
                   ("disconnected", "online", None), ("timeout", "offline", None), ("resumed", "online", 5)]
    assert r.json["next_cursor"] is None


def test_a_change_has_every_field_oldest_first(client, connect):
    client.put("/api/v1/reason-codes/", json={"codes": [{"code": "lunch", "label": "Lunch", "statuses": ["away"]}]},
               headers=bearer(SUP, role="supervisor"))
    post(client, "set-status/", {"status": "away", "message": "Back at 2", "reason_code": "lunch"})
    post(client, "set-status/", {"status": "busy"})

    first, second = history(client, 5).json["changes"]

    assert list(first) == FIELDS
    assert {k: first[k] for k in FIELDS if k != "at"} == {
        "seq": 1, "from_status": "offline", "to_status": "away", "message": "Back at 2", "reason": "manual",
        "reason_code": "lunch", "websocket_connected": False, "actor_id": 5}
    assert ISO_Z.fullmatch(first["at"])
    assert (second["seq"], second["from_status"], second["to_status"], second["reason_code"]) == (2, "away", "busy",
                                                                                                   None)


def test_pages_follow_the_cursor_to_the_end(app, client):
    base = datetime(2026, 1, 5, 9, 0)
    record(app, 5, [(base + timedelta(minutes=i), "offline", "online", False, "manual", None) for i in range(5)])

    pages, cursor = [], None
    while True:
        query = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        answer = history(client, 5, **query).json
        pages.append([c["seq"] for c in answer["changes"]])
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert pages == [[1, 2], [3, 4], [5]]
    assert [c["seq"] for c in history(client, 5).json["changes"]] == [1, 2, 3, 4, 5], "limit defaults to 100"


def test_since_and_until_bound_the_changes(app, client):
    base = datetime(2026, 1, 5, 9, 0)
    record(app, 5, [(base + timedelta(hours=i), "offline", "online", False, "manual", None) for i in range(5)])

    answer = history(client, 5, since="2026-01-05T07:00:00-03:00", until="2026-01-05T12:00:00Z").json

    assert [c["seq"] for c in answer["changes"]] == [2, 3]
    assert answer["changes"][0]["at"] == "2026-01-05T10:00:00Z"


def test_an_agent_reads_its_own_history_and_no_one_elses(client):
    post(client, "set-status/", {"status": "online"}, sub=5)
    post(client, "set-status/", {"status": "online"}, sub=6)

    assert history(client, 5, sub=5, role=None).status_code == 200
    r = history(client, 6, sub=5, role=None)
    assert (r.status_code, r.json["error"]) == (403, "forbidden")


def test_another_orgs_agent_is_not_found(client):
    post(client, "set-status/", {"status": "online"}, sub=7, org="other")
    for sub, role in ((SUP, "supervisor"), (5, None)):
        r = history(client, 7, sub=sub, role=role)
        assert (r.status_code, r.json["error"]) == (404, "not_found")
    assert history(client, 12345).status_code == 404
    assert history(client, 2**63).status_code == 404


def _cursor_after_first_page(app, client):
    record(app, 5, [(datetime(2026, 1, 5, 9, i), "offline", "online", False, "manual", None) for i in range(3)])
    cursor = history(client, 5, limit=1).json["next_cursor"]
    assert cursor and history(client, 5, limit=1, cursor=cursor).status_code == 200
    return cursor


def test_a_cursor_is_the_last_seq_of_a_page_and_anything_else_is_a_400(app, client):
    cursor = _cursor_after_first_page(app, client)
    assert cursor == "1"
    # Any seq is meaningful (continue after it), so the document's pattern is the whole rule.
    assert [c["seq"] for c in history(client, 5, cursor="0").json["changes"]] == [1, 2, 3]
    assert history(client, 5, cursor="999999999999999999").json == {"changes": [], "next_cursor": None}
    for bad in ("", "not-a-cursor", "-1", "1.5", "9" * 19, "x" * 300):
        r = history(client, 5, cursor=bad)
        assert (r.status_code, r.json.get("error")) == (400, "validation_error"), (bad, r.json)
        assert "cursor" in r.json["details"]


@pytest.mark.parametrize("query, field", [
    ({"limit": "0"}, "limit"),
    ({"limit": "1001"}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"since": "2026-01-05T09:00:00"}, "since"),
    ({"until": "tomorrow"}, "until"),
    ({"since": "2026-01-06T09:00:00Z", "until": "2026-01-05T09:00:00Z"}, "until"),
    ({"status": "busy"}, "status"),
])
def test_bad_queries_answer_400(client, query, field):
    post(client, "set-status/", {"status": "online"})
    r = history(client, 5, **query)
    assert r.status_code == 400, r.json
    assert field in r.json["details"]


def test_a_limit_of_1000_is_allowed(client):
    post(client, "set-status/", {"status": "online"})
    assert len(history(client, 5, limit="1000").json["changes"]) == 1


def test_rows_of_the_ledger_before_the_audit_have_no_actor(app, client):
    record(app, 5, [(datetime.now(UTC).replace(tzinfo=None), "offline", "online", False, "manual", None)])
    (change,) = history(client, 5).json["changes"]
    assert change["actor_id"] is None and change["reason_code"] is None
