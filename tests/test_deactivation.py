"""Agents who leave: their sockets close, they leave rosters and candidates, their tokens are refused."""
import threading

import pytest
from sqlalchemy import select

from presence_app.extensions import db, socketio
from presence_app.models import Connection, Presence
from presence_app.services import agents

from .inprocess import GRACE, changes, count, drain, ledger, pending, seat, set_status
from .support import CHAT, ENVELOPE, assert_error, bearer, token, wait_for

AGENT = "/api/v1/agents/{}/"
REACTIVATE = "/api/v1/agents/{}/reactivate/"
ME = "/api/v1/presence/me/"
ROSTER = "/api/v1/presence/"
SUPERVISOR = {"role": "supervisor", "name": "Ana"}


def supervisor(org=None):
    return bearer(1, org=org, **SUPERVISOR)


def service():
    return bearer("platform-backend", role="service", name=None)


@pytest.fixture
def grace_app(make_app):
    return make_app(DISCONNECT_GRACE_SECONDS=GRACE)


def deactivated(client, agent_id, headers=None):
    answer = client.delete(AGENT.format(agent_id), headers=headers or supervisor())
    assert answer.status_code == 200, answer.json
    assert set(answer.json) == {"agent_id", "active", "deactivated_at"}
    assert (answer.json["agent_id"], answer.json["active"]) == (agent_id, False)
    return answer.json


def roster_ids(client, headers=None):
    return [a["agent_id"] for a in client.get(ROSTER, headers=headers or supervisor()).json["agents"]]


def test_deactivation_closes_sockets_announces_offline_once_and_leaves_rosters(grace_app):
    client = grace_app.test_client()

    def connect(sub):
        sio = socketio.test_client(grace_app, auth={"token": token(sub)}, flask_test_client=client)
        wait_for(lambda: pending(sio, "presence_state"), timeout=5, interval=0.01, message="presence_state")
        return sio

    watcher, leaver, other_tab = connect(9), connect(5), connect(5)
    watcher.emit("join_chat", {"chat_id": CHAT}, callback=True)
    set_status(client, 5, "online", "here")
    client.post("/api/v1/typing/", json={"chat_id": CHAT}, headers=bearer(5))
    drain(watcher)
    answer = deactivated(client, 5)
    assert answer["deactivated_at"] is not None
    assert not leaver.is_connected() and not other_tab.is_connected()
    assert count(grace_app, Connection) == 1  # the watcher's
    seen = drain(watcher)
    gone = [data["data"] for name, data in seen if name == "agent_presence_changed"]
    assert [(c["agent_id"], c["status"], c["reason"], c["websocket_connected"], c["message"]) for c in gone] == [
        (5, "offline", "deactivated", False, "")]
    assert [name for name, _ in seen if name == "typing_stop"] == ["typing_stop"]
    threading.Event().wait(GRACE + 0.5)  # the grace of its closed sockets passes: nothing more is announced
    assert changes(watcher) == []
    assert roster_ids(client) == [1, 9]
    assert_error(client.get("/api/v1/presence/5/", headers=supervisor()), 404, "not_found")
    history = client.get("/api/v1/presence/5/history/", headers=supervisor()).json["changes"]
    assert history[-1]["reason"] == "deactivated" and history[-1]["actor_id"] == 1  # its ledger stays


@pytest.mark.parametrize("method, path, body", [
    ("GET", ME, None), ("POST", "/api/v1/presence/heartbeat/", None), ("GET", ROSTER, None),
    ("POST", "/api/v1/presence/set-status/", {"status": "online"}), ("POST", "/api/v1/typing/", {"chat_id": CHAT}),
    ("POST", "/api/v1/presence/activity/", {"idle": True}), ("GET", "/api/v1/reason-codes/", None),
])
def test_a_deactivated_agents_token_answers_401_agent_deactivated(app, client, method, path, body):
    client.get(ME, headers=bearer(5))
    deactivated(client, 5)
    assert_error(client.open(path, method=method, json=body, headers=bearer(5)), 401, "agent_deactivated")
    assert_error(client.open(path, method=method, json=body, headers=bearer(5, name="Renamed")), 401,
                 "agent_deactivated")
    assert ledger(app, 5)[-1][-1] == "deactivated"  # nothing written after it


def test_a_deactivated_agent_cannot_connect_a_socket(app, client, connect):
    connect(5)
    deactivated(client, 5)
    assert not connect(5).is_connected()
    assert count(app, Connection) == 0


def test_a_deactivated_agent_cannot_log_in(client, runner):
    runner.invoke(args=["create-agent", "--email", "a@example.com", "--name", "A", "--password", "s3cret-pass",
                        "--id", "5"])
    deactivated(client, 5)
    answer = client.post("/api/v1/auth/token", json={"email": "a@example.com", "password": "s3cret-pass"})
    assert_error(answer, 401, "agent_deactivated")


def test_another_process_refuses_the_agent_on_its_hot_paths_at_once_and_everywhere_after_its_look(make_app):
    here, there = make_app(), make_app()  # two apps, two caches of known agents: two processes
    near, far = here.test_client(), there.test_client()
    assert far.post("/api/v1/presence/heartbeat/", headers=bearer(5)).status_code == 200  # known there
    deactivated(near, 5)
    # The heartbeat's statement matches active agents only: the row is missing, the slow path refuses.
    assert_error(far.post("/api/v1/presence/heartbeat/", headers=bearer(5)), 401, "agent_deactivated")
    assert_error(far.post("/api/v1/presence/set-status/", json={"status": "busy"}, headers=bearer(5)), 401,
                 "agent_deactivated")
    far.get(ME, headers=bearer(6))
    deactivated(near, 6)
    assert far.get(ROSTER, headers=bearer(6)).status_code == 200  # a read, from the cache, until its look
    with there.app_context():
        assert agents.close_departed({"sid-of-6": 6, "sid-of-7": 7}) == {5, 6}  # what its loop does each second
    assert_error(far.get(ROSTER, headers=bearer(6)), 401, "agent_deactivated")


def test_deactivation_leaves_the_candidates_and_reactivation_brings_the_agent_back(app, client, connect):
    seat(app, [5, 6])
    service_ids = [a["agent_id"] for a in client.get("/api/v1/routing/candidates/", headers=service()).json["agents"]]
    assert service_ids == [5, 6]
    deactivated(client, 5, headers=service())
    assert [a["agent_id"] for a in
            client.get("/api/v1/routing/candidates/", headers=service()).json["agents"]] == [6]
    assert_error(client.post("/api/v1/routing/assign/", json={"chat_id": CHAT, "agent_id": 5}, headers=service()),
                 404, "not_found")
    watcher = connect(9)
    drain(watcher)
    back = client.post(REACTIVATE.format(5), headers=service())
    assert back.status_code == 200 and back.json == {"agent_id": 5, "active": True, "deactivated_at": None}
    assert [(c["agent_id"], c["status"], c["reason"]) for c in changes(watcher)] == [(5, "offline", "profile")]
    assert client.get(ME, headers=bearer(5)).json["status"] == "offline"
    assert 5 in roster_ids(client)
    connect(5)
    set_status(client, 5, "online")
    assert 5 in [a["agent_id"] for a in client.get("/api/v1/routing/candidates/", headers=service()).json["agents"]]


def test_deactivate_and_reactivate_are_idempotent(app, client, connect):
    client.get(ME, headers=bearer(5))
    watcher = connect(9)
    drain(watcher)
    first = deactivated(client, 5)
    assert deactivated(client, 5) == first
    assert client.post(REACTIVATE.format(5), headers=supervisor()).json["active"] is True
    assert client.post(REACTIVATE.format(5), headers=supervisor()).json["active"] is True
    reasons = [c["reason"] for c in changes(watcher)]
    assert reasons == ["deactivated", "profile"]
    assert [row[-1] for row in ledger(app, 5)] == ["deactivated", "profile"]


def test_parallel_deactivations_announce_once(app, client):
    client.get(ME, headers=bearer(5))
    answers, start = [], threading.Barrier(8)

    def run():
        start.wait()
        answers.append(client.delete(AGENT.format(5), headers=supervisor()))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert [a.status_code for a in answers] == [200] * 8
    assert len({a.json["deactivated_at"] for a in answers}) == 1
    assert [row[-1] for row in ledger(app, 5)] == ["deactivated"]
    with app.app_context():
        assert db.session.scalar(select(Presence.active).where(Presence.agent_id == 5)) is False


def test_who_may_deactivate(app, client):
    client.get(ME, headers=bearer(5))
    client.get(ME, headers=bearer(7, org="other"))
    for path, method in ((AGENT.format(5), "DELETE"), (REACTIVATE.format(5), "POST")):
        refused = client.open(path, method=method, data=b"{not json", headers=bearer(6))
        assert refused.status_code == 403 and set(refused.json) == ENVELOPE and refused.json["error"] == "forbidden"
        assert client.open(path, method=method).status_code == 401
    assert_error(client.delete(AGENT.format(1), headers=supervisor()), 403, "forbidden")  # not itself
    assert_error(client.delete(AGENT.format(7), headers=supervisor()), 404, "not_found")  # another org's
    assert_error(client.delete(AGENT.format(77), headers=supervisor()), 404, "not_found")
    assert_error(client.post(REACTIVATE.format(77), headers=service()), 404, "not_found")
    assert_error(client.post(REACTIVATE.format(5), json={"x": 1}, headers=supervisor()), 400, "validation_error")
    assert client.get(ME, headers=bearer(5)).status_code == 200  # nothing happened to 5
