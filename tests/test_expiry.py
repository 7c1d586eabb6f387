"""Expiry in one process: the job functions against the real database, and embedded mode's own schedule.

The jobs run here exactly as the worker runs them (inside an app context); the timeouts are
configured to fractions of a second, and the database's clock decides when they have passed.
"""
import random
import threading
import time

import pytest

from presence_app import jobs

from .clients import Rest, matches
from .inprocess import run_job
from .support import CHAT, MEETING, bearer, running, wait_for

SHORT = 0.5  # PRESENCE_TIMEOUT_SECONDS and TYPING_TIMEOUT_SECONDS of the in-process app


@pytest.fixture
def app(make_app):
    """The embedded app with timeouts of half a second (the jobs are called by the tests)."""
    return make_app(PRESENCE_TIMEOUT_SECONDS=SHORT, TYPING_TIMEOUT_SECONDS=SHORT)


class Heard:
    """Everything one Flask-SocketIO test client has received so far, as (event, data)."""

    def __init__(self, sio):
        self.sio, self.events = sio, []

    def of(self, name, **match):
        self.events += [(e["name"], e["args"][0]["data"]) for e in self.sio.get_received()]
        return [data for event, data in self.events if event == name and matches(data, match)]

    def changes(self, agent_id, **match):
        return self.of("agent_presence_changed", agent_id=agent_id, **match)


@pytest.fixture
def observer(connect):
    """A supervisor's console in the default org, in chat CHAT."""
    sio = connect(900, role="supervisor")
    assert sio.emit("join_chat", {"chat_id": CHAT}, callback=True)["ok"]
    return Heard(sio)


def sweep(app):
    return run_job(app, jobs.check_agent_presence_timeout)


def silent(client, agent_id):
    """True once the agent's silence has outlived the timeout, by the database's clock."""
    return client.get(f"/api/v1/presence/{agent_id}/", headers=bearer(900)).json["is_inactive"]


def go_busy(client, sub):
    r = client.post("/api/v1/presence/set-status/", json={"status": "busy", "message": MEETING}, headers=bearer(sub))
    assert r.status_code == 200, r.json
    return r.json


def heartbeat(client, sub):
    r = client.post("/api/v1/presence/heartbeat/", headers=bearer(sub))
    assert r.status_code == 200, r.json
    return r.json


def test_timeout_job_sets_a_silent_agent_offline_once_with_reason_timeout(app, client, observer, database):
    before = go_busy(client, 5)
    assert sweep(app) == 0, "an agent seen just now is not timed out"

    wait_for(lambda: silent(client, 5), message="agent 5 silent for the timeout")
    assert sweep(app) == 1

    (event,) = observer.changes(5, reason="timeout")
    assert (event["status"], event["previous_status"], event["message"]) == ("offline", "busy", "")
    assert event["seq"] == before["seq"] + 1
    mine = client.get("/api/v1/presence/me/", headers=bearer(5)).json
    assert (mine["status"], mine["is_inactive"], mine["seq"]) == ("offline", True, event["seq"])
    assert sweep(app) == 0
    assert len(observer.changes(5, reason="timeout")) == 1
    assert database.reasons(5) == ["manual", "timeout"]


def test_agents_with_a_live_socket_or_a_recent_heartbeat_are_not_timed_out(app, client, connect, observer):
    on_socket = connect(6)
    assert on_socket.emit("set_status", {"status": "online", "message": ""}, callback=True)["ok"]
    go_busy(client, 7)
    go_busy(client, 8)
    wait_for(lambda: silent(client, 8), message="agent 8 silent for the timeout")
    heartbeat(client, 7)

    assert sweep(app) == 1  # agent 8 only

    assert [e["agent_id"] for e in observer.of("agent_presence_changed", reason="timeout")] == [8]
    assert client.get("/api/v1/presence/6/", headers=bearer(900)).json["status"] == "online"
    assert client.get("/api/v1/presence/7/", headers=bearer(900)).json["status"] == "busy"


@pytest.mark.parametrize("sign", ["rest_heartbeat", "socket_connect", "typing"])
def test_a_sign_of_life_after_a_timeout_restores_status_and_message(app, client, connect, observer, sign):
    go_busy(client, 10)
    wait_for(lambda: silent(client, 10), message="agent 10 silent")
    assert sweep(app) == 1
    (timed_out,) = observer.changes(10, reason="timeout")

    if sign == "rest_heartbeat":
        heartbeat(client, 10)
    elif sign == "socket_connect":
        connect(10)
    else:
        assert client.post("/api/v1/typing/", json={"chat_id": CHAT}, headers=bearer(10)).status_code == 200

    (resumed,) = observer.changes(10, reason="resumed")
    assert (resumed["status"], resumed["message"], resumed["previous_status"]) == ("busy", MEETING, "offline")
    assert resumed["seq"] == timed_out["seq"] + 1
    assert resumed["websocket_connected"] is (sign == "socket_connect")
    assert observer.changes(10, seq=resumed["seq"]) == [resumed], "one event for the resume"
    mine = client.get("/api/v1/presence/me/", headers=bearer(10)).json
    assert (mine["status"], mine["status_message"]) == ("busy", MEETING)
    heartbeat(client, 10)
    assert len(observer.changes(10, reason="resumed")) == 1


def test_a_manual_offline_stays_offline(app, client, observer, database):
    r = client.post("/api/v1/presence/set-status/", json={"status": "offline", "message": "Gone home"},
                    headers=bearer(11))
    assert r.status_code == 200
    wait_for(lambda: silent(client, 11), message="agent 11 silent")

    assert sweep(app) == 0
    mine = heartbeat(client, 11)

    assert (mine["status"], mine["status_message"]) == ("offline", "Gone home")
    assert database.reasons(11) == ["manual"]
    assert observer.changes(11, reason="timeout") == [] and observer.changes(11, reason="resumed") == []


def test_a_manual_status_after_a_timeout_wins_over_the_resume(app, client, observer):
    go_busy(client, 12)
    wait_for(lambda: silent(client, 12), message="agent 12 silent")
    assert sweep(app) == 1

    r = client.post("/api/v1/presence/set-status/", json={"status": "online"}, headers=bearer(12))
    assert (r.json["status"], r.json["status_message"]) == ("online", "")
    mine = heartbeat(client, 12)

    assert mine["status"] == "online", "the pending resume was dropped by the manual change"
    assert observer.changes(12, reason="resumed") == []
    assert [e["reason"] for e in observer.changes(12)] == ["manual", "timeout", "manual"]


def test_the_timeout_stops_the_agents_typing_indicator_once(app, client, observer):
    go_busy(client, 13)
    assert client.post("/api/v1/typing/", json={"chat_id": CHAT}, headers=bearer(13)).json["started"] is True
    wait_for(lambda: silent(client, 13), message="agent 13 silent")

    assert sweep(app) == 1
    assert len(observer.of("typing_stop", agent_id=13, chat_id=CHAT)) == 1
    assert run_job(app, jobs.expire_stale_typing) == 0
    assert len(observer.of("typing_stop", agent_id=13)) == 1


def test_an_unrenewed_typing_indicator_is_stopped_once_and_a_renewed_one_is_kept(app, client, connect, observer):
    other = "other-chat"
    assert observer.sio.emit("join_chat", {"chat_id": other}, callback=True)["ok"]
    for chat_id in (CHAT, other):
        assert client.post("/api/v1/typing/", json={"chat_id": chat_id}, headers=bearer(14)).json["started"]

    def renew_other_then_expire():
        renewed = client.post("/api/v1/typing/", json={"chat_id": other}, headers=bearer(14)).json
        assert renewed["started"] is False, "a renewal is silent"
        return run_job(app, jobs.expire_stale_typing)

    wait_for(renew_other_then_expire, message="the stale indicator expired")

    (stop,) = observer.of("typing_stop", agent_id=14)
    assert (stop["chat_id"], stop["from"]) == (CHAT, "Agent 14")
    assert run_job(app, jobs.expire_stale_typing) == 0
    assert len(observer.of("typing_stop", agent_id=14)) == 1
    assert len(observer.of("typing_start", agent_id=14, chat_id=other)) == 1


def test_concurrent_timeout_sweeps_announce_each_transition_once(app, client, observer, database):
    agents = list(range(20, 40))
    for sub in agents:
        go_busy(client, sub)
    wait_for(lambda: silent(client, agents[-1]), message="every agent silent")
    start, counts = threading.Barrier(4), []

    def sweeper():
        with app.app_context():
            start.wait(timeout=10)
            counts.append(jobs.check_agent_presence_timeout())

    threads = [threading.Thread(target=sweeper) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(counts) == 4 and sum(counts) == len(agents), counts  # every agent by exactly one sweep
    timeouts = observer.of("agent_presence_changed", reason="timeout")
    assert sorted(e["agent_id"] for e in timeouts) == agents
    for sub in agents:
        assert database.reasons(sub) == ["manual", "timeout"]


def test_heartbeats_racing_sweeps_never_leave_an_agent_offline(app, observer, database):
    agents = [41, 42, 43, 44, 45, 46]
    for sub in agents:
        go_busy(app.test_client(), sub)
    stop, failures = threading.Event(), []

    def sweeper():
        while not stop.is_set():
            sweep(app)
            stop.wait(0.002)

    def beater(sub):
        client, rng = app.test_client(), random.Random(sub)
        while not stop.is_set():
            mine = heartbeat(client, sub)
            if (mine["status"], mine["status_message"]) != ("busy", MEETING):
                failures.append(mine)
            # just around the timeout, so heartbeats land while a sweep is taking the agent offline
            stop.wait(SHORT + rng.uniform(-0.02, 0.05))

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    threads += [threading.Thread(target=beater, args=(sub,)) for sub in agents]
    with running(threads, stop):
        lost = database.lost_during(4, SHORT, interval=0.01)

    assert not failures, failures[:3]
    assert not lost, f"offline by timeout despite a heartbeat younger than the timeout: {sorted(lost)}"
    raced = 0
    for sub in agents:
        reasons = database.reasons(sub)
        after = reasons[1:]  # each timeout answered by one resume (the last may still be pending)
        assert after == (["timeout", "resumed"] * len(after))[:len(after)], reasons
        assert [row.seq for row in database.ledger(sub)] == list(range(1, len(reasons) + 1))
        assert len(observer.changes(sub, reason="timeout")) == reasons.count("timeout")
        raced += reasons.count("timeout")
    assert raced > 0, "no agent timed out: the sweeps never raced a heartbeat"


EMBEDDED = {"PRESENCE_TIMEOUT_SECONDS": 2, "PRESENCE_SWEEP_SECONDS": 1, "TYPING_TIMEOUT_SECONDS": 2,
            "PROCESS_BEAT_SECONDS": 1, "DISCONNECT_GRACE_SECONDS": 1}
LATENCY = 1.5  # the job's pass and the emit, on a loaded two-core machine


@pytest.mark.processes
def test_embedded_web_process_times_out_a_silent_agent_within_bound_once(processes, database, observers):
    _, url = processes.web(**EMBEDDED)  # no REDIS_URL: the jobs run inside the web process
    rest = Rest(url)
    assert rest.http.get(f"{url}/health").json()["mode"] == "embedded"
    observer = observers(url, 900, role="supervisor")
    rest.set_status(15, "busy", MEETING)
    sent, _ = rest.heartbeat(15)
    (arrived, event), = wait_for(lambda: observer.changes(15, reason="timeout"), timeout=10,
                                 message="the embedded timeout job")
    bound = EMBEDDED["PRESENCE_TIMEOUT_SECONDS"] + EMBEDDED["PRESENCE_SWEEP_SECONDS"] + LATENCY
    print(f"\nembedded: last sign of life -> timeout event {arrived - sent:.2f}s (bound {bound}s)")
    assert arrived - sent <= bound
    assert (event["status"], event["previous_status"]) == ("offline", "busy")
    time.sleep(2 * EMBEDDED["PRESENCE_SWEEP_SECONDS"])
    assert len(observer.changes(15, reason="timeout")) == 1
    assert database.reasons(15) == ["manual", "timeout"]
    _, resumed = rest.heartbeat(15)
    assert (resumed["status"], resumed["status_message"]) == ("busy", MEETING)


@pytest.mark.processes
def test_embedded_web_process_stops_an_unrenewed_typing_indicator_once(processes, database, observers):
    _, url = processes.web(**dict(EMBEDDED, PRESENCE_TIMEOUT_SECONDS=60))
    rest = Rest(url)
    observer = observers(url, 900, chats=[CHAT], role="supervisor")
    rest.set_status(16, "online")
    sent, answer = rest.typing(16, CHAT)
    assert answer["started"] is True
    (arrived, stop), = wait_for(lambda: observer.of("typing_stop", agent_id=16), timeout=10,
                                message="the embedded typing expiry")
    bound = EMBEDDED["TYPING_TIMEOUT_SECONDS"] + 1 + LATENCY  # TYPING_SWEEP_SECONDS is 1 here
    print(f"\nembedded: last renewal -> typing_stop {arrived - sent:.2f}s (bound {bound}s)")
    assert EMBEDDED["TYPING_TIMEOUT_SECONDS"] <= arrived - sent <= bound
    assert stop["chat_id"] == CHAT
    time.sleep(2)
    assert len(observer.of("typing_stop", agent_id=16)) == 1
    assert len(observer.of("typing_start", agent_id=16)) == 1
    assert database.typing_count() == 0
