"""In-process Socket.IO: presence_state, agent_presence_changed, acks, refused connects, chat rooms, typing, tabs."""
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from presence_app import jobs
from presence_app.extensions import db, socketio
from presence_app.models import Agent, Connection, Presence, PresenceChange

from .support import bearer, token, wait_for

GRACE = 0.3
CHAT = "5511999999999"
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
PRESENCE_FIELDS = {
    "agent_id", "name", "status", "status_message", "last_heartbeat", "websocket_connected", "connections",
    "status_changed_at", "is_available", "minutes_in_status", "is_inactive", "seq",
}
CHANGE_FIELDS = {
    "agent_id", "status", "message", "timestamp", "name", "previous_status", "websocket_connected",
    "is_available", "reason", "seq",
}


@pytest.fixture
def app(make_app):
    """Apps of this module announce an agent's last socket closing after a short grace."""
    return make_app(DISCONNECT_GRACE_SECONDS=GRACE)


def drain(sio):
    """Everything the client received since the last drain, as (event name, payload)."""
    received = []
    for message in sio.get_received():
        assert len(message["args"]) == 1, message
        received.append((message["name"], message["args"][0]))
    return received


def data_of(received, event):
    """The data of each `event` envelope received, checking the envelope itself."""
    found = []
    for name, payload in received:
        if name == event:
            assert payload["event"] == event
            assert payload["version"] == "v1"
            assert set(payload) == {"event", "data", "version"}
            found.append(payload["data"])
    return found


def changes(sio):
    return data_of(drain(sio), "agent_presence_changed")


def pending(sio, event):
    """How many `event`s wait in the client's queue (read without draining; a background thread may append)."""
    return sum(1 for message in list(sio.queue) if message["name"] == event)


def assert_recent(stamp, within=30):
    assert ISO_Z.fullmatch(stamp), stamp
    at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - at).total_seconds()) < within


def presence_of(client, agent_id, viewer=99, org=None):
    return client.get(f"/api/v1/presence/{agent_id}/", headers=bearer(viewer, org=org)).json


def set_status(client, sub, status, message=None, **claims):
    body = {"status": status} if message is None else {"status": status, "message": message}
    return client.post("/api/v1/presence/set-status/", json=body, headers=bearer(sub, **claims)).json


def ledger(app, agent_id):
    with app.app_context():
        rows = db.session.scalars(
            select(PresenceChange).where(PresenceChange.agent_id == agent_id).order_by(PresenceChange.seq)).all()
        return [(r.seq, r.from_status, r.to_status, r.message, r.websocket_connected, r.reason) for r in rows]


def silence(app, agent_id):
    """Move the agent's last sign of life past the presence timeout."""
    with app.app_context():
        row = db.session.get(Presence, agent_id)
        row.last_seen -= timedelta(seconds=app.config["PRESENCE_TIMEOUT_SECONDS"] + 5)
        db.session.commit()


def run_job(app, job):
    with app.app_context():
        return job()


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


# presence_state


def test_connect_sends_presence_state_with_the_org_roster(client, connect):
    set_status(client, 1, "online", "Disponível", name="Ana")
    set_status(client, 2, "busy", name="João")
    set_status(client, 7, "online", org="other")
    sio = connect(3, name="Maria")
    assert sio.is_connected()
    states = data_of(drain(sio), "presence_state")
    assert len(states) == 1
    state = states[0]
    assert set(state) == {"agents", "server_time"}
    assert_recent(state["server_time"])
    agents = {a["agent_id"]: a for a in state["agents"]}
    assert sorted(agents) == [1, 2, 3]
    assert all(set(a) == PRESENCE_FIELDS for a in state["agents"])
    assert (agents[1]["name"], agents[1]["status"], agents[1]["status_message"]) == ("Ana", "online", "Disponível")
    assert (agents[1]["websocket_connected"], agents[1]["is_available"]) == (False, False)
    assert (agents[2]["status"], agents[2]["connections"]) == ("busy", 0)
    mine = agents[3]
    assert (mine["name"], mine["status"], mine["websocket_connected"], mine["connections"]) == ("Maria", "offline", True, 1)
    assert (mine["is_available"], mine["seq"]) == (False, 1)


def test_presence_state_shows_an_online_agent_available(client, connect):
    set_status(client, 1, "online")
    connect(1)
    states = data_of(drain(connect(2)), "presence_state")
    agent_1 = next(a for a in states[0]["agents"] if a["agent_id"] == 1)
    assert (agent_1["websocket_connected"], agent_1["is_available"], agent_1["connections"]) == (True, True, 1)


# agent_presence_changed


def test_connecting_is_announced_once_to_the_org_with_every_field(app, connect):
    observer, outsider = connect(1), connect(7, org="other")
    drain(observer), drain(outsider)
    connect(2, name="João Silva")
    announced = changes(observer)
    assert len(announced) == 1
    data = announced[0]
    assert set(data) == CHANGE_FIELDS
    assert data["agent_id"] == 2
    assert data["status"] == "offline"
    assert data["message"] == ""
    assert_recent(data["timestamp"])
    assert data["name"] == "João Silva"
    assert data["previous_status"] == "offline"
    assert data["websocket_connected"] is True
    assert data["is_available"] is False
    assert data["reason"] == "connected"
    assert data["seq"] == 1
    assert changes(outsider) == []
    assert ledger(app, 2) == [(1, "offline", "offline", "", True, "connected")]


def test_a_rest_status_change_is_announced_with_every_field(client, connect):
    observer, agent = connect(1), connect(2, name="João Silva")
    drain(observer), drain(agent)
    set_status(client, 2, "online", "Disponível", name="João Silva")
    announced = changes(observer)
    assert len(announced) == 1
    data = announced[0]
    assert set(data) == CHANGE_FIELDS
    assert (data["agent_id"], data["name"]) == (2, "João Silva")
    assert (data["status"], data["message"], data["previous_status"]) == ("online", "Disponível", "offline")
    assert (data["websocket_connected"], data["is_available"]) == (True, True)
    assert (data["reason"], data["seq"]) == ("manual", 2)
    assert_recent(data["timestamp"])
    assert changes(agent) == [data]  # the agent's own tabs hear it too


def test_a_socket_status_change_acks_and_is_announced(client, connect):
    observer, agent = connect(1), connect(2, name="João Silva")
    drain(observer)
    ack = agent.emit("set_status", {"status": "busy", "message": "In a meeting until 3 pm"}, callback=True)
    assert set(ack) == {"ok", "presence"}
    assert ack["ok"] is True
    assert set(ack["presence"]) == PRESENCE_FIELDS
    assert (ack["presence"]["status"], ack["presence"]["status_message"]) == ("busy", "In a meeting until 3 pm")
    assert ack["presence"]["seq"] == 2
    data = changes(observer)
    assert len(data) == 1
    assert (data[0]["status"], data[0]["message"], data[0]["previous_status"]) == (
        "busy", "In a meeting until 3 pm", "offline")
    assert (data[0]["websocket_connected"], data[0]["is_available"]) == (True, False)
    assert (data[0]["reason"], data[0]["seq"]) == ("manual", 2)
    assert presence_of(client, 2) == ack["presence"]


def test_no_op_changes_are_not_announced(client, connect):
    observer, agent = connect(1), connect(2)
    agent.emit("set_status", {"status": "online", "message": "Disponível"}, callback=True)
    drain(observer)
    ack = agent.emit("set_status", {"status": "online", "message": "Disponível"}, callback=True)
    assert (ack["ok"], ack["presence"]["seq"]) == (True, 2)
    set_status(client, 2, "online", "Disponível")
    agent.emit("heartbeat", {}, callback=True)
    client.post("/api/v1/presence/heartbeat/", headers=bearer(2))
    agent.emit("typing_start", {"chat_id": CHAT}, callback=True)
    connect(2)  # a second tab
    assert changes(observer) == []
    assert presence_of(client, 2)["seq"] == 2


def test_seq_grows_by_one_with_every_announced_change(app, client, connect):
    observer = connect(1)
    agent = connect(2)
    agent.emit("set_status", {"status": "online"}, callback=True)
    set_status(client, 2, "online", "Disponível")
    client.post("/api/v1/presence/2/set-status/", json={"status": "away"}, headers=bearer(9, role="supervisor"))
    agent.emit("set_status", {"status": "offline"}, callback=True)
    announced = [d for d in changes(observer) if d["agent_id"] == 2]
    assert [d["seq"] for d in announced] == [1, 2, 3, 4, 5]
    assert [d["reason"] for d in announced] == ["connected", "manual", "manual", "supervisor", "manual"]
    assert [d["status"] for d in announced] == ["offline", "online", "online", "away", "offline"]
    assert [d["previous_status"] for d in announced] == ["offline", "offline", "online", "online", "away"]
    assert [row[0] for row in ledger(app, 2)] == [1, 2, 3, 4, 5]
    assert [row[5] for row in ledger(app, 2)] == ["connected", "manual", "manual", "supervisor", "manual"]


def test_the_timeout_is_announced_with_reason_timeout(app, client, connect):
    set_status(client, 2, "busy", "In a meeting")
    observer = connect(1)
    drain(observer)
    silence(app, 2)
    assert run_job(app, jobs.check_agent_presence_timeout) == 1
    data = changes(observer)
    assert len(data) == 1
    assert (data[0]["agent_id"], data[0]["status"], data[0]["message"], data[0]["previous_status"]) == (
        2, "offline", "", "busy")
    assert (data[0]["reason"], data[0]["seq"], data[0]["websocket_connected"]) == ("timeout", 2, False)
    assert ledger(app, 2)[-1] == (2, "busy", "offline", "", False, "timeout")
    assert run_job(app, jobs.check_agent_presence_timeout) == 0
    assert changes(observer) == []


@pytest.mark.parametrize("entrance", ["rest heartbeat", "rest typing", "socket connect"])
def test_a_sign_of_life_after_the_timeout_resumes_with_reason_resumed(app, client, connect, entrance):
    set_status(client, 2, "busy", "In a meeting")
    silence(app, 2)
    run_job(app, jobs.check_agent_presence_timeout)
    observer = connect(1)
    drain(observer)
    if entrance == "rest heartbeat":
        client.post("/api/v1/presence/heartbeat/", headers=bearer(2))
    elif entrance == "rest typing":
        client.post("/api/v1/typing/", json={"chat_id": CHAT}, headers=bearer(2))
    else:
        connect(2)
    data = [d for d in changes(observer) if d["agent_id"] == 2]
    assert len(data) == 1
    assert (data[0]["status"], data[0]["message"], data[0]["previous_status"]) == ("busy", "In a meeting", "offline")
    assert (data[0]["reason"], data[0]["seq"]) == ("resumed", 3)
    assert data[0]["websocket_connected"] is (entrance == "socket connect")
    assert ledger(app, 2)[-1] == (3, "offline", "busy", "In a meeting", entrance == "socket connect", "resumed")


# acks


@pytest.mark.parametrize("event, expected", [
    ("join_chat", {"ok": True, "chat_id": CHAT}),
    ("leave_chat", {"ok": True, "chat_id": CHAT}),
    ("typing_start", {"ok": True, "chat_id": CHAT, "typing": True, "started": True}),
    ("typing_stop", {"ok": True, "chat_id": CHAT, "typing": False, "stopped": False}),
])
def test_chat_event_acks(connect, event, expected):
    assert connect(2).emit(event, {"chat_id": CHAT}, callback=True) == expected


def test_typing_acks_say_whether_an_indicator_started_or_stopped(connect):
    sio = connect(2)
    assert sio.emit("typing_start", {"chat_id": CHAT}, callback=True)["started"] is True
    assert sio.emit("typing_start", {"chat_id": CHAT}, callback=True)["started"] is False
    assert sio.emit("typing_stop", {"chat_id": CHAT}, callback=True)["stopped"] is True
    assert sio.emit("typing_stop", {"chat_id": CHAT}, callback=True)["stopped"] is False


@pytest.mark.parametrize("args", [({},), ()])
def test_heartbeat_acks_the_server_time_and_my_presence(client, connect, args):
    ack = connect(2).emit("heartbeat", *args, callback=True)
    assert set(ack) == {"ok", "server_time", "presence"}
    assert ack["ok"] is True
    assert_recent(ack["server_time"])
    assert set(ack["presence"]) == PRESENCE_FIELDS
    assert ack["presence"]["agent_id"] == 2
    assert_recent(ack["presence"]["last_heartbeat"])
    assert presence_of(client, 2)["last_heartbeat"] == ack["presence"]["last_heartbeat"]


@pytest.mark.parametrize("event, data, field", [
    ("join_chat", {"chat_id": "a b"}, "chat_id"),
    ("join_chat", {"chat_id": "x" * 65}, "chat_id"),
    ("join_chat", {}, "chat_id"),
    ("join_chat", None, "chat_id"),
    ("join_chat", CHAT, "_schema"),
    ("join_chat", {"chat_id": CHAT, "org": "other"}, "org"),
    ("leave_chat", {"chat_id": ""}, "chat_id"),
    ("typing_start", {"chat_id": "ção"}, "chat_id"),
    ("typing_start", {"chat_id": CHAT, "extra": 1}, "extra"),
    ("typing_stop", {"chat_id": 5511}, "chat_id"),
    ("heartbeat", {"status": "online"}, "status"),
    ("heartbeat", ["alive"], "_schema"),
    ("set_status", {"status": "Online"}, "status"),
    ("set_status", {"status": " busy"}, "status"),
    ("set_status", {"message": "hi"}, "status"),
    ("set_status", {"status": "busy", "message": "x" * 141}, "message"),
    ("set_status", {"status": "busy", "message": "a\nb"}, "message"),
    ("set_status", {"status": "busy", "mood": "fine"}, "mood"),
])
def test_invalid_client_events_ack_a_validation_error_and_change_nothing(client, connect, event, data, field):
    observer, sio = connect(1), connect(2)
    drain(observer)
    ack = sio.emit(event, *([] if data is None else [data]), callback=True)
    assert set(ack) == {"ok", "error", "message", "details"}
    assert ack["ok"] is False
    assert ack["error"] == "validation_error"
    assert isinstance(ack["message"], str) and ack["message"]
    assert field in ack["details"]
    assert changes(observer) == []
    assert presence_of(client, 2)["seq"] == 1
    assert sio.is_connected()


# refused connects


REFUSED = {
    "no auth": lambda: {"auth": None},
    "empty auth": lambda: {"auth": {}},
    "auth not an object": lambda: {"auth": token(5)},
    "empty token": lambda: {"auth": {"token": ""}},
    "token not a string": lambda: {"auth": {"token": 5}},
    "garbage token": lambda: {"auth": {"token": "not-a-token"}},
    "wrong signature": lambda: {"auth": {"token": token(5, secret="another-secret-that-is-also-long-enough-for-it")}},
    "expired": lambda: {"auth": {"token": token(5, exp_in=-60)}},
    "non-integer sub": lambda: {"auth": {"token": token("abc")}},
    "token in query string only": lambda: {"auth": None, "query_string": f"token={token(5)}"},
    "token in query string beside auth": lambda: {"auth": {"token": token(5)}, "query_string": f"token={token(5)}"},
    "access_token in query string": lambda: {"auth": {"token": token(5)}, "query_string": f"access_token={token(5)}"},
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_connects(app, client, case):
    kwargs = REFUSED[case]()
    sio = socketio.test_client(app, flask_test_client=client, **kwargs)
    assert not sio.is_connected()
    assert sio.queue == []  # no presence_state, no event
    assert count(app, Agent) == 0
    assert count(app, Connection) == 0


def test_a_token_whose_org_differs_from_the_agents_is_refused(app, client, connect):
    client.get("/api/v1/presence/me/", headers=bearer(5, org="acme"))
    sio = connect(5, org="other")
    assert not sio.is_connected()
    assert count(app, Connection) == 0


def test_a_refused_connect_announces_nothing(app, connect):
    observer = connect(1)
    drain(observer)
    connect(2, auth={"token": token(2, exp_in=-60)})
    assert changes(observer) == []
    assert count(app, Connection) == 1


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
