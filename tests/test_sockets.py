"""In-process Socket.IO: presence_state, agent_presence_changed, acks, refused connects."""
import pytest

from presence_app import jobs
from presence_app.extensions import socketio
from presence_app.models import Agent, Connection

from .inprocess import GRACE, changes, count, data_of, drain, ledger, presence_of, run_job, set_status, silence
from .support import CHANGE_FIELDS, CHAT, PRESENCE_FIELDS, assert_recent, bearer, token


@pytest.fixture
def app(make_app):
    """Apps of this module announce an agent's last socket closing after a short grace."""
    return make_app(DISCONNECT_GRACE_SECONDS=GRACE)


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
    assert set(state) == {"agents", "server_time", "cursor"}
    assert_recent(state["server_time"])
    agents = {a["agent_id"]: a for a in state["agents"]}
    assert sorted(agents) == [1, 2, 3]
    assert all(set(a) == PRESENCE_FIELDS for a in state["agents"])
    assert (agents[1]["name"], agents[1]["status"], agents[1]["status_message"]) == ("Ana", "online", "Disponível")
    assert (agents[1]["websocket_connected"], agents[1]["is_available"]) == (False, False)
    assert (agents[2]["status"], agents[2]["connections"]) == ("busy", 0)
    mine = agents[3]
    assert (mine["name"], mine["status"], mine["websocket_connected"], mine["connections"]) == (
        "Maria", "offline", True, 1)
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
    ("join_chat", {"ok": True, "chat_id": CHAT, "typing": []}),
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
