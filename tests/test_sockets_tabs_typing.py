"""In-process Socket.IO: chat rooms and typing, several tabs of one agent, the disconnect grace."""
import time

import pytest

from presence_app import jobs
from presence_app.models import Connection

from .inprocess import GRACE, changes, count, data_of, drain, ledger, pending, presence_of, run_job, set_status, silence
from .support import CHAT, assert_recent, bearer, wait_for


@pytest.fixture
def app(make_app):
    """Apps of this module announce an agent's last socket closing after a short grace."""
    return make_app(DISCONNECT_GRACE_SECONDS=GRACE)


# chat rooms and typing


def test_chat_rooms_are_scoped_by_org(client, connect):
    acme, other = connect(1, org="acme"), connect(2, org="other")
    not_joined = connect(3, org="acme")
    acme.emit("join_chat", {"chat_id": CHAT}, callback=True)
    other.emit("join_chat", {"chat_id": CHAT}, callback=True)
    drain(acme), drain(other), drain(not_joined)

    client.post("/api/v1/typing/", json={"chat_id": CHAT}, headers=bearer(4, name="Maria", org="acme"))
    heard = data_of(drain(acme), "typing_start")
    assert len(heard) == 1
    assert set(heard[0]) == {"chat_id", "from", "agent_id", "timestamp"}
    assert (heard[0]["chat_id"], heard[0]["from"], heard[0]["agent_id"]) == (CHAT, "Maria", 4)
    assert_recent(heard[0]["timestamp"])
    assert drain(other) == []
    assert drain(not_joined) == []

    client.post("/api/v1/typing/", json={"chat_id": CHAT}, headers=bearer(5, org="other"))
    assert [d["agent_id"] for d in data_of(drain(other), "typing_start")] == [5]
    assert data_of(drain(acme), "typing_start") == []


def test_presence_changes_never_cross_orgs(client, connect):
    acme, other = connect(1, org="acme"), connect(2, org="other")
    drain(acme), drain(other)
    set_status(client, 3, "online", org="acme")
    assert [d["agent_id"] for d in changes(acme)] == [3]
    assert changes(other) == []


def test_leaving_a_chat_stops_its_typing_events(client, connect):
    sio = connect(1)
    sio.emit("join_chat", {"chat_id": CHAT}, callback=True)
    sio.emit("leave_chat", {"chat_id": CHAT}, callback=True)
    drain(sio)
    client.post("/api/v1/typing/", json={"chat_id": CHAT}, headers=bearer(4))
    assert data_of(drain(sio), "typing_start") == []


def test_typing_start_once_renewals_silent_stop_once(client, connect):
    observer, typer = connect(1), connect(2, name="João Silva")
    observer.emit("join_chat", {"chat_id": CHAT}, callback=True)
    drain(observer)

    typer.emit("typing_start", {"chat_id": CHAT}, callback=True)
    started = data_of(drain(observer), "typing_start")
    assert len(started) == 1
    assert (started[0]["chat_id"], started[0]["from"], started[0]["agent_id"]) == (CHAT, "João Silva", 2)
    assert_recent(started[0]["timestamp"])

    typer.emit("typing_start", {"chat_id": CHAT}, callback=True)
    client.post("/api/v1/typing/", json={"chat_id": CHAT}, headers=bearer(2, name="João Silva"))
    assert drain(observer) == []

    typer.emit("typing_stop", {"chat_id": CHAT}, callback=True)
    stopped = data_of(drain(observer), "typing_stop")
    assert len(stopped) == 1
    assert set(stopped[0]) == {"chat_id", "from", "agent_id", "timestamp"}
    assert (stopped[0]["chat_id"], stopped[0]["from"], stopped[0]["agent_id"]) == (CHAT, "João Silva", 2)

    typer.emit("typing_stop", {"chat_id": CHAT}, callback=True)
    client.delete("/api/v1/typing/", query_string={"chat_id": CHAT}, headers=bearer(2, name="João Silva"))
    assert drain(observer) == []


@pytest.mark.parametrize("way", ["rest set-status", "socket set_status", "supervisor", "timeout"])
def test_going_offline_ends_typing_with_exactly_one_typing_stop(app, client, connect, way):
    observer = connect(1)
    observer.emit("join_chat", {"chat_id": CHAT}, callback=True)
    agent = connect(2) if way == "socket set_status" else None  # the timeout needs an agent with no socket
    set_status(client, 2, "online")
    client.post("/api/v1/typing/", json={"chat_id": CHAT}, headers=bearer(2))
    drain(observer)
    if way == "rest set-status":
        set_status(client, 2, "offline")
    elif way == "socket set_status":
        agent.emit("set_status", {"status": "offline"}, callback=True)
    elif way == "supervisor":
        client.post("/api/v1/presence/2/set-status/", json={"status": "offline"}, headers=bearer(9, role="supervisor"))
    else:
        silence(app, 2)
        assert run_job(app, jobs.check_agent_presence_timeout) == 1
    received = drain(observer)
    assert [d["agent_id"] for d in data_of(received, "typing_stop")] == [2]
    assert [(d["agent_id"], d["status"]) for d in data_of(received, "agent_presence_changed")] == [(2, "offline")]
    client.delete("/api/v1/typing/", query_string={"chat_id": CHAT}, headers=bearer(2))
    assert data_of(drain(observer), "typing_stop") == []


def test_typing_stop_when_the_agents_last_socket_goes_exactly_once(connect):
    observer, first, second = connect(1), connect(2), connect(2)
    observer.emit("join_chat", {"chat_id": CHAT}, callback=True)
    first.emit("typing_start", {"chat_id": CHAT}, callback=True)
    drain(observer)
    first.disconnect()
    assert drain(observer) == []
    second.disconnect()
    assert [d["agent_id"] for d in data_of(drain(observer), "typing_stop")] == [2]  # at once, not after the grace
    wait_for(lambda: pending(observer, "agent_presence_changed"), timeout=5, message="disconnected")
    assert data_of(drain(observer), "typing_stop") == []


def test_a_stale_indicator_is_stopped_once_by_the_expiry_job(app, connect):
    observer, typer = connect(1), connect(2)
    observer.emit("join_chat", {"chat_id": CHAT}, callback=True)
    typer.emit("typing_start", {"chat_id": CHAT}, callback=True)
    drain(observer)
    assert run_job(app, jobs.expire_stale_typing) == 0
    app.config["TYPING_TIMEOUT_SECONDS"] = 0.1
    time.sleep(0.2)
    assert run_job(app, jobs.expire_stale_typing) == 1
    assert run_job(app, jobs.expire_stale_typing) == 0
    assert [d["agent_id"] for d in data_of(drain(observer), "typing_stop")] == [2]


# several tabs


def test_two_sockets_of_one_agent_closing_one_changes_nothing_closing_both_announces_once(app, client, connect):
    set_status(client, 2, "online")
    observer = connect(1)
    first = connect(2)
    second = connect(2)
    assert [d["reason"] for d in changes(observer) if d["agent_id"] == 2] == ["connected"]
    snapshot = data_of(drain(second), "presence_state")[0]["agents"]
    assert next(a for a in snapshot if a["agent_id"] == 2)["connections"] == 2
    assert presence_of(client, 2)["connections"] == 2

    first.disconnect()
    assert changes(observer) == []
    mine = presence_of(client, 2)
    assert (mine["connections"], mine["websocket_connected"], mine["is_available"]) == (1, True, True)

    second.disconnect()
    assert changes(observer) == []  # not before the grace
    assert presence_of(client, 2)["websocket_connected"] is True

    wait_for(lambda: pending(observer, "agent_presence_changed"), timeout=5, message="disconnected")
    data = changes(observer)
    assert len(data) == 1
    assert (data[0]["agent_id"], data[0]["reason"], data[0]["seq"]) == (2, "disconnected", 3)
    assert (data[0]["status"], data[0]["previous_status"], data[0]["message"]) == ("online", "online", "")
    assert (data[0]["websocket_connected"], data[0]["is_available"]) == (False, False)
    time.sleep(GRACE)
    assert changes(observer) == []
    mine = presence_of(client, 2)
    assert (mine["connections"], mine["websocket_connected"], mine["is_available"]) == (0, False, False)
    assert [row[5] for row in ledger(app, 2)] == ["manual", "connected", "disconnected"]


def test_a_reconnect_within_the_grace_announces_nothing(app, client, connect):
    set_status(client, 2, "online")
    observer = connect(1)
    tab = connect(2)
    drain(observer)
    tab.disconnect()
    connect(2)  # the page reloaded
    time.sleep(GRACE + 0.5)  # past the grace and the pending announcement
    assert changes(observer) == []
    mine = presence_of(client, 2)
    assert (mine["websocket_connected"], mine["connections"], mine["is_available"], mine["seq"]) == (True, 1, True, 2)
    assert [row[5] for row in ledger(app, 2)] == ["manual", "connected"]


def test_connections_counts_live_sockets(app, client, connect):
    tabs = [connect(2) for _ in range(3)]
    assert data_of(drain(tabs[2]), "presence_state")[0]["agents"][0]["connections"] == 3
    assert presence_of(client, 2)["connections"] == 3
    tabs[0].disconnect()
    assert presence_of(client, 2)["connections"] == 2
    assert count(app, Connection) == 2


def test_a_live_socket_keeps_an_agent_active_and_available(app, client, connect):
    set_status(client, 2, "online")
    connect(2)
    silence(app, 2)
    mine = presence_of(client, 2)
    assert (mine["is_inactive"], mine["is_available"]) == (False, True)
    assert run_job(app, jobs.check_agent_presence_timeout) == 0
    roster = client.get("/api/v1/presence/?available=true", headers=bearer(1)).json
    assert [a["agent_id"] for a in roster["agents"]] == [2]


# resync: the typing snapshot in join_chat acks and sync


def test_join_chat_says_who_is_typing_there_now(client, connect):
    typist = connect(1, name="Ana")
    assert typist.emit("typing_start", {"chat_id": CHAT}, callback=True)["ok"]
    client.post("/api/v1/typing/", json={"chat_id": "other"}, headers=bearer(2))
    late = connect(3)
    ack = late.emit("join_chat", {"chat_id": CHAT}, callback=True)
    assert ack["ok"] is True and ack["chat_id"] == CHAT
    [typing] = ack["typing"]
    assert set(typing) == {"chat_id", "agent_id", "from", "since"}
    assert (typing["chat_id"], typing["agent_id"], typing["from"]) == (CHAT, 1, "Ana")
    assert_recent(typing["since"])
    assert connect(4, org="other").emit("join_chat", {"chat_id": CHAT}, callback=True)["typing"] == []


def test_sync_answers_the_roster_and_the_typing_of_my_chats(client, connect):
    set_status(client, 1, "busy", "In a meeting", name="Ana")
    client.post("/api/v1/typing/", json={"chat_id": CHAT}, headers=bearer(1, name="Ana"))
    client.post("/api/v1/typing/", json={"chat_id": "not-mine"}, headers=bearer(2))
    client.post("/api/v1/typing/", json={"chat_id": CHAT}, headers=bearer(7, org="other"))
    sio = connect(3)
    assert sio.emit("join_chat", {"chat_id": CHAT}, callback=True)["ok"]
    ack = sio.emit("sync", {}, callback=True)
    assert set(ack) == {"ok", "full", "agents", "typing", "cursor", "server_time"} and ack["ok"] is True
    assert_recent(ack["server_time"])
    assert [(a["agent_id"], a["status"]) for a in ack["agents"]] == [(1, "busy"), (2, "offline"), (3, "offline")]
    assert [(t["chat_id"], t["agent_id"], t["from"]) for t in ack["typing"]] == [(CHAT, 1, "Ana")]
    assert sio.emit("sync", {"since": 5}, callback=True)["error"] == "validation_error"
