"""Socket.IO across real processes: auth, fan-out through Redis, chat rooms and typing, orgs, async modes.

Every test starts real `web` (eventlet) and `worker` processes on free ports and talks to them
with python-socketio's Client and requests. Settings are short (grace and beat of a second),
and every wait is for an event, bounded; where a test checks that nothing happened, a sentinel
change that every observer must see proves that anything sent before it has surely arrived.
Tabs, the disconnect grace and killed processes are in test_realtime_tabs_crashes.py.
"""
import importlib.util
import os

import pytest
import websocket

from .clients import Rest, sentinel
from .support import CHAT, FAST, ISO_Z, assert_change, token, wait_for

pytestmark = pytest.mark.processes


# --- 1. connecting --------------------------------------------------------------------------------


def test_refused_connections_say_why_and_are_not_counted(processes, clients, database):
    _, url = processes.web(CORS_ALLOWED_ORIGINS="https://console.example", **FAST)
    api = Rest(url)
    allowed = "https://console.example"

    missing = clients.console(url, 7, auth={}, origin=allowed).refused()
    assert missing["connect_error"]["message"].startswith("missing token")
    assert missing["connect_error"]["data"] == {
        "error": "unauthorized", "message": missing["connect_error"]["message"], "details": {}}

    in_query = clients.console(url, 7, origin=allowed).refused(query=f"?token={token(7)}")
    assert "query string" in in_query["connect_error"]["message"]
    assert in_query["connect_error"]["data"]["error"] == "unauthorized"

    forged = clients.console(url, 7, auth={"token": token(7, secret="another-secret-" + "x" * 32)}, origin=allowed)
    assert forged.refused()["connect_error"]["message"].startswith("invalid token")

    expired = clients.console(url, 7, auth={"token": token(7, exp_in=-60)}, origin=allowed).refused()
    assert "expired" in expired["connect_error"]["message"]
    assert expired["connect_error"]["data"]["error"] == "unauthorized"

    # The Origin check is Engine.IO's, before any Socket.IO packet: HTTP 400 with its reason.
    polling = clients.console(url, 7, transports=["polling"], origin="https://evil.example").refused()
    assert "400" in polling["exception"] and polling["connect_error"] == "Not an accepted origin."
    with pytest.raises(websocket.WebSocketBadStatusException) as handshake:
        websocket.create_connection(url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket",
                                    origin="https://evil.example", timeout=15)
    assert handshake.value.status_code == 400 and b"Not an accepted origin." in handshake.value.resp_body

    assert api.me(7)["connections"] == 0
    assert database.rows("SELECT count(*) FROM connections")[0][0] == 0

    accepted = clients.console(url, 7, transports=["polling", "websocket"], origin=allowed).connect()
    wait_for(lambda: accepted.sio.transport() == "websocket", message="upgrade to websocket")
    me = api.me(7)
    assert (me["connections"], me["websocket_connected"]) == (1, True)


def test_accepted_socket_gets_presence_state_at_once_and_joins_its_org_room(processes, clients):
    _, url = processes.web(**FAST)
    api = Rest(url)
    api.set_status(1, "busy", "In a meeting until 3 pm", name="João Silva")
    api.set_status(2, "online", org="globex")

    console = clients.console(url, 3, name="Ana").connect()
    [state] = console.received("presence_state")
    assert state["event"] == "presence_state" and state["version"] == "v1"
    assert set(state["data"]) == {"agents", "server_time", "cursor"} and ISO_Z.fullmatch(state["data"]["server_time"])
    by_id = {agent["agent_id"]: agent for agent in state["data"]["agents"]}
    assert sorted(by_id) == [1, 3], "the snapshot holds my org's agents only"
    assert by_id[1]["status_message"] == "In a meeting until 3 pm" and by_id[1]["name"] == "João Silva"
    assert (by_id[3]["websocket_connected"], by_id[3]["connections"]) == (True, 1)

    api.set_status(1, "online")
    assert_change(console.wait("agent_presence_changed", agent_id=1, status="online")[0]["data"],
                  previous_status="busy", reason="manual", websocket_connected=False)


# --- 2. every entrance reaches every process, once ------------------------------------------------


def test_change_through_one_process_reaches_the_other_once(production, clients):
    timing = dict(FAST, PRESENCE_TIMEOUT_SECONDS=2, PRESENCE_SWEEP_SECONDS=1)
    (_, web1), (_, web2) = production.cluster(**timing)
    one = clients.console(web1, 1).connect()
    two = clients.console(web2, 2).connect()
    observers = (one, two)
    for observer in observers:
        observer.wait("agent_presence_changed", agent_id=2, reason="connected")

    # REST on web1, for an agent with no socket.
    Rest(web1).set_status(3, "online", "back at 3", name="Bia")
    for observer in observers:
        assert_change(observer.wait("agent_presence_changed", agent_id=3, reason="manual")[0]["data"],
                      agent_id=3, name="Bia", status="online", message="back at 3", previous_status="offline",
                      websocket_connected=False, is_available=False, seq=1)

    # A socket event on web2.
    ack = two.call("set_status", {"status": "busy", "message": "lunch"})
    assert ack["ok"] is True and ack["presence"]["status"] == "busy" and ack["presence"]["seq"] == 2
    for observer in observers:
        assert_change(observer.wait("agent_presence_changed", agent_id=2, reason="manual")[0]["data"],
                      status="busy", message="lunch", previous_status="offline", websocket_connected=True,
                      is_available=False, seq=2)

    # A scheduled job in the worker: agent 3 has no socket and no sign of life for 2 s.
    for observer in observers:
        assert_change(observer.wait("agent_presence_changed", agent_id=3, reason="timeout")[0]["data"],
                      status="offline", message="", previous_status="online", seq=2)
    # A sign of life through web2 brings back what the timeout took.
    assert Rest(web2).call("POST", "/presence/heartbeat/", 3, name="Bia").json()["status"] == "online"
    for observer in observers:
        assert_change(observer.wait("agent_presence_changed", agent_id=3, reason="resumed")[0]["data"],
                      status="online", message="back at 3", previous_status="offline", seq=3)

    sentinel(web1, observers)
    for observer in observers:
        assert [(c["seq"], c["reason"]) for c in observer.changes(3)] == [(1, "manual"), (2, "timeout"), (3, "resumed")]
        assert [(c["seq"], c["reason"]) for c in observer.changes(2)] == [(1, "connected"), (2, "manual")]


# --- 3. chat rooms and typing ---------------------------------------------------------------------------


def test_typing_across_processes_is_coalesced_and_ends_once(production, clients):
    _, web1 = production.web(name="web1", **FAST)
    _, web2 = production.web(name="web2", **FAST)
    api = Rest(web1)
    watcher = clients.console(web2, 30).connect()
    assert watcher.call("join_chat", {"chat_id": CHAT})["ok"] is True
    tab1 = clients.console(web1, 31, name="João Silva").connect()
    tab2 = clients.console(web2, 31, name="João Silva").connect()

    assert tab1.call("typing_start", {"chat_id": CHAT})["started"] is True
    start = watcher.wait("typing_start")[0]
    assert start["event"] == "typing_start" and start["version"] == "v1"
    assert set(start["data"]) == {"chat_id", "from", "agent_id", "timestamp"}
    assert (start["data"]["chat_id"], start["data"]["from"], start["data"]["agent_id"]) == (CHAT, "João Silva", 31)
    # Renewals from the other tab, and over REST, are silent.
    assert tab2.call("typing_start", {"chat_id": CHAT})["started"] is False
    r = api.call("POST", "/typing/", 31, {"chat_id": CHAT}, name="João Silva")
    assert r.status_code == 200 and r.json()["started"] is False
    assert tab1.call("typing_stop", {"chat_id": CHAT})["stopped"] is True
    watcher.wait("typing_stop")
    assert tab2.call("typing_stop", {"chat_id": CHAT})["stopped"] is False

    # Typing again; closing one tab keeps it, closing the last ends it with one typing_stop.
    assert tab2.call("typing_start", {"chat_id": CHAT})["started"] is True
    watcher.wait("typing_start", count=2)
    tab1.close()
    wait_for(lambda: api.me(31, name="João Silva")["connections"] == 1, message="tab1 uncounted")
    tab2.close()
    stop = watcher.wait("typing_stop", count=2)[1]
    assert (stop["data"]["agent_id"], stop["data"]["chat_id"], stop["data"]["from"]) == (31, CHAT, "João Silva")

    # After leave_chat, the watcher no longer hears that chat; the sentinel chat proves delivery.
    assert watcher.call("leave_chat", {"chat_id": CHAT})["ok"] is True
    assert watcher.call("join_chat", {"chat_id": "sentinel"})["ok"] is True
    typist = clients.console(web1, 33).connect()
    assert typist.call("typing_start", {"chat_id": CHAT})["started"] is True
    assert typist.call("typing_start", {"chat_id": "sentinel"})["started"] is True
    watcher.wait("typing_start", chat_id="sentinel")

    heard = watcher.timeline("typing_start", "typing_stop", chat_id=CHAT)
    assert [(event, data["agent_id"]) for event, data in heard] == [
        ("typing_start", 31), ("typing_stop", 31), ("typing_start", 31), ("typing_stop", 31)]


# --- 4. isolation between orgs ---------------------------------------------------------------------


def test_presence_and_typing_are_isolated_between_orgs(production, clients):
    _, web1 = production.web(name="web1", **FAST)
    _, web2 = production.web(name="web2", **FAST)
    acme = [clients.console(web1, 40, org="acme").connect(), clients.console(web2, 41, org="acme").connect()]
    globex = [clients.console(web1, 42, org="globex").connect(), clients.console(web2, 43, org="globex").connect()]
    for console in acme + globex:
        assert console.call("join_chat", {"chat_id": CHAT})["ok"] is True
    assert sorted(a["agent_id"] for a in acme[1].received("presence_state")[0]["data"]["agents"]) == [40, 41]
    assert sorted(a["agent_id"] for a in globex[1].received("presence_state")[0]["data"]["agents"]) == [42, 43]

    Rest(web1).set_status(42, "online", "globex news", org="globex")
    assert globex[1].call("typing_start", {"chat_id": CHAT})["started"] is True
    assert acme[0].call("typing_start", {"chat_id": CHAT})["started"] is True
    assert Rest(web2).call("GET", "/presence/42/", 41, org="acme").status_code == 404

    globex[0].wait("typing_start", agent_id=43)
    acme[1].wait("typing_start", agent_id=40)
    sentinel(web1, acme, sub=98, org="acme")
    sentinel(web2, globex, sub=97, org="globex")
    for org, consoles, members in (("acme", acme, {40, 41, 98}), ("globex", globex, {42, 43, 97})):
        for console in consoles:
            seen = {p["data"]["agent_id"] for event in ("agent_presence_changed", "typing_start")
                    for p in console.received(event)}
            assert seen and seen <= members, f"{console} of {org} saw {seen}"


# --- 5. async modes -----------------------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("gevent") is None,
                    reason="gevent is not installed (pip install gevent) so ASYNC_MODE=gevent cannot be tried")
def test_gevent_web_process_serves_a_socket_round_trip(processes, clients):
    proc, url = processes.web(ASYNC_MODE="gevent", **FAST)
    if os.path.exists(f"/proc/{proc.pid}/maps"):
        with open(f"/proc/{proc.pid}/maps") as maps:
            assert "/gevent/" in maps.read(), "the web process does not run on gevent"
    observer = clients.console(url, 50).connect()
    agent = clients.console(url, 51).connect()
    assert agent.call("set_status", {"status": "online", "message": ""})["ok"] is True
    assert_change(observer.wait("agent_presence_changed", agent_id=51, reason="manual")[0]["data"],
                  status="online", is_available=True)
    assert agent.call("heartbeat", {})["ok"] is True
    agent.close()
    # The grace runs as a gevent background task.
    assert_change(observer.wait("agent_presence_changed", agent_id=51, reason="disconnected")[0]["data"],
                  websocket_connected=False, is_available=False)
