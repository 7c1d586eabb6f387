"""Socket.IO across real processes: auth, rooms, fan-out through Redis, tabs, grace, crashes, orgs.

Every test starts real `web` (eventlet) and `worker` processes on free ports and talks to them
with python-socketio's Client and requests. Settings are short (grace and beat of a second or
two), and every wait is for an event, bounded; the only fixed waits are the windows in which a
test checks that nothing happens, each followed by a sentinel change that every observer must
see, so that anything sent before it has surely arrived.
"""
import importlib.util
import os
import re
import signal
import time

import pytest
import requests
import websocket
from sqlalchemy import create_engine, text

from presence_app.config import database_url as sa_url

from .clients import PRESENCE_FIELDS, Clients, settle
from .support import bearer, token, wait_for

pytestmark = pytest.mark.processes

GRACE, BEAT = 1, 1
FAST = {"DISCONNECT_GRACE_SECONDS": GRACE, "PROCESS_BEAT_SECONDS": BEAT}
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
CHAT = "5511999999999"


@pytest.fixture
def clients(tmp_path):
    """Socket.IO clients of one test, closed before its processes stop."""
    opened = Clients(tmp_path)
    yield opened
    opened.close_all()


def rest(url, method, path, sub, body=None, **claims):
    """Call the REST API as agent `sub`; return the response."""
    return requests.request(method, f"{url}/api/v1{path}", headers=bearer(sub, **claims), json=body, timeout=15)


def set_status(url, sub, status, message="", **claims):
    """POST set-status as agent `sub` and check it was accepted."""
    r = rest(url, "POST", "/presence/set-status/", sub, {"status": status, "message": message}, **claims)
    assert r.status_code == 200, r.text
    return r.json()


def presence_of(url, sub, **claims):
    """GET /presence/me/ as agent `sub`."""
    r = rest(url, "GET", "/presence/me/", sub, **claims)
    assert r.status_code == 200, r.text
    return r.json()


def sql(database_url, statement, **params):
    """Rows of one SQL statement on the test database (to look at connections and web_processes)."""
    engine = create_engine(sa_url(database_url))
    try:
        with engine.connect() as conn:
            return conn.execute(text(statement), params).all()
    finally:
        engine.dispose()


def sentinel(url, observers, sub=99, **claims):
    """Make one last change and wait until every observer has it.

    Every emit goes through one Redis channel (or one process), in order, so once the
    sentinel has arrived, anything sent before it has arrived too.
    """
    message = f"sentinel {time.monotonic_ns()}"
    set_status(url, sub, "away", message, **claims)
    for observer in observers:
        observer.wait("agent_presence_changed", agent_id=sub, message=message)


def assert_change(data, **expected):
    """agent_presence_changed data: exactly the contract's fields, consistent, with these values."""
    assert set(data) == PRESENCE_FIELDS
    assert ISO.fullmatch(data["timestamp"]), data["timestamp"]
    assert data["is_available"] == (data["status"] == "online" and data["websocket_connected"])
    assert isinstance(data["seq"], int)
    assert {key: data[key] for key in expected} == expected


# --- 1. connecting --------------------------------------------------------------------------------


def test_refused_connections_say_why_and_are_not_counted(processes, clients):
    _, url = processes.web(CORS_ALLOWED_ORIGINS="https://console.example", **FAST)
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

    assert presence_of(url, 7)["connections"] == 0
    assert sql(processes.env["DATABASE_URL"], "SELECT count(*) FROM connections")[0][0] == 0

    accepted = clients.console(url, 7, transports=["polling", "websocket"], origin=allowed).connect()
    wait_for(lambda: accepted.sio.transport() == "websocket", message="upgrade to websocket")
    me = presence_of(url, 7)
    assert (me["connections"], me["websocket_connected"]) == (1, True)


def test_accepted_socket_gets_presence_state_at_once_and_joins_its_org_room(processes, clients):
    _, url = processes.web(**FAST)
    set_status(url, 1, "busy", "In a meeting until 3 pm", name="João Silva")
    set_status(url, 2, "online", org="globex")

    console = clients.console(url, 3, name="Ana").connect()
    [state] = console.received("presence_state")
    assert state["event"] == "presence_state" and state["version"] == "v1"
    assert set(state["data"]) == {"agents", "server_time"} and ISO.fullmatch(state["data"]["server_time"])
    by_id = {agent["agent_id"]: agent for agent in state["data"]["agents"]}
    assert sorted(by_id) == [1, 3], "the snapshot holds my org's agents only"
    assert by_id[1]["status_message"] == "In a meeting until 3 pm" and by_id[1]["name"] == "João Silva"
    assert (by_id[3]["websocket_connected"], by_id[3]["connections"]) == (True, 1)

    set_status(url, 1, "online")
    assert_change(console.wait("agent_presence_changed", agent_id=1, status="online")[0]["data"],
                  previous_status="busy", reason="manual", websocket_connected=False)


# --- 2. every entrance reaches every process, once ------------------------------------------------


def test_change_through_one_process_reaches_the_other_once(production, clients):
    timing = dict(FAST, PRESENCE_TIMEOUT_SECONDS=2, PRESENCE_SWEEP_SECONDS=1)
    _, web1 = production.web(name="web1", **timing)
    _, web2 = production.web(name="web2", **timing)
    production.worker(**timing)
    one = clients.console(web1, 1).connect()
    two = clients.console(web2, 2).connect()
    observers = (one, two)
    for observer in observers:
        observer.wait("agent_presence_changed", agent_id=2, reason="connected")

    # REST on web1, for an agent with no socket.
    set_status(web1, 3, "online", "back at 3", name="Bia")
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
    assert rest(web2, "POST", "/presence/heartbeat/", 3, name="Bia").json()["status"] == "online"
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
    r = rest(web1, "POST", "/typing/", 31, {"chat_id": CHAT}, name="João Silva")
    assert r.status_code == 200 and r.json()["started"] is False
    assert tab1.call("typing_stop", {"chat_id": CHAT})["stopped"] is True
    watcher.wait("typing_stop")
    assert tab2.call("typing_stop", {"chat_id": CHAT})["stopped"] is False

    # Typing again; closing one tab keeps it, closing the last ends it with one typing_stop.
    assert tab2.call("typing_start", {"chat_id": CHAT})["started"] is True
    watcher.wait("typing_start", count=2)
    tab1.close()
    wait_for(lambda: presence_of(web1, 31, name="João Silva")["connections"] == 1, message="tab1 uncounted")
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


# --- 4. tabs, grace, crashes --------------------------------------------------------------------


def test_two_tabs_on_two_processes_closing_one_changes_nothing_closing_both_announces_once(production, clients):
    grace = 2
    timing = dict(FAST, DISCONNECT_GRACE_SECONDS=grace)
    _, web1 = production.web(name="web1", **timing)
    _, web2 = production.web(name="web2", **timing)
    production.worker(**timing)
    observer = clients.console(web1, 10).connect()
    tab1 = clients.console(web1, 11).connect()
    observer.wait("agent_presence_changed", agent_id=11, reason="connected")
    tab2 = clients.console(web2, 11).connect()
    assert presence_of(web1, 11)["connections"] == 2

    closed_at = time.monotonic()
    tab1.close()
    wait_for(lambda: presence_of(web2, 11)["connections"] == 1, message="one tab left")
    settle(closed_at + grace + 2 * BEAT - time.monotonic())  # past the grace and a backstop pass
    assert observer.changes(11) and [c["reason"] for c in observer.changes(11)] == ["connected"]
    assert presence_of(web1, 11)["websocket_connected"] is True

    closed_at = time.monotonic()
    tab2.close()
    def no_tab_left():
        me = presence_of(web1, 11)
        return me if me["connections"] == 0 else None

    during = wait_for(no_tab_left, message="no tab left")
    assert during["websocket_connected"] is True, "announced state stays connected during the grace"
    gone = observer.wait("agent_presence_changed", agent_id=11, reason="disconnected")[0]["data"]
    assert time.monotonic() - closed_at >= grace - 0.1
    assert_change(gone, websocket_connected=False, is_available=False, status="offline", seq=2)

    settle(2 * BEAT)  # the backstop must not announce it again
    sentinel(web2, [observer])
    assert [(c["seq"], c["reason"]) for c in observer.changes(11)] == [(1, "connected"), (2, "disconnected")]


def test_reload_on_another_process_within_the_grace_announces_nothing(production, clients):
    grace = 2
    timing = dict(FAST, DISCONNECT_GRACE_SECONDS=grace)
    _, web1 = production.web(name="web1", **timing)
    _, web2 = production.web(name="web2", **timing)
    production.worker(**timing)
    observer = clients.console(web2, 12).connect()
    before = clients.console(web1, 13).connect()
    observer.wait("agent_presence_changed", agent_id=13, reason="connected")

    closed_at = time.monotonic()
    before.close()
    wait_for(lambda: presence_of(web1, 13)["connections"] == 0, message="the old page gone")
    after = clients.console(web2, 13).connect()
    assert time.monotonic() - closed_at < grace, "the reload took longer than the grace; the test proves nothing"
    [mine] = [a for a in after.received("presence_state")[0]["data"]["agents"] if a["agent_id"] == 13]
    assert (mine["websocket_connected"], mine["connections"]) == (True, 1)

    settle(closed_at + grace + 2 * BEAT - time.monotonic())  # past the first page's grace and a backstop pass
    sentinel(web1, [observer])
    assert [c["reason"] for c in observer.changes(13)] == ["connected"]
    me = presence_of(web1, 13)
    assert (me["connections"], me["websocket_connected"], me["seq"]) == (1, True, 1)


def test_sigkill_of_a_web_process_uncounts_its_sockets_and_a_start_wipes_nothing(production, clients):
    database = production.env["DATABASE_URL"]
    victim, web1 = production.web(name="web1", **FAST)
    survivor, web2 = production.web(name="web2", **FAST)
    production.worker(**FAST)
    observer = clients.console(web2, 20).connect()
    assert observer.call("join_chat", {"chat_id": CHAT})["ok"] is True
    only_on_victim = clients.console(web1, 21).connect()
    clients.console(web1, 22).connect()
    clients.console(web2, 22).connect()
    for agent in (21, 22):
        observer.wait("agent_presence_changed", agent_id=agent, reason="connected")
    assert only_on_victim.call("typing_start", {"chat_id": CHAT})["started"] is True
    observer.wait("typing_start", agent_id=21)

    # Each web process registered itself and beats.
    def beats():
        return {pid: at for pid, at in sql(database, "SELECT id, beat_at FROM web_processes")}
    first = beats()
    assert sorted(int(pid.split(":")[1]) for pid in first) == sorted([victim.pid, survivor.pid])
    def both_beat():
        now = beats()
        return now.keys() == first.keys() and all(now[pid] > first[pid] for pid in first)

    wait_for(both_beat, timeout=10, message="both processes beat")

    # A third process starting wipes nothing.
    processes_before = sql(database, "SELECT sid, process_id FROM connections ORDER BY sid")
    production.web(name="web3", **FAST)
    assert sql(database, "SELECT sid, process_id FROM connections ORDER BY sid") == processes_before
    assert (presence_of(web2, 21)["connections"], presence_of(web2, 22)["connections"]) == (1, 2)

    killed_at = time.monotonic()
    victim.kill()
    # Bound: dead after 3 beats, plus one maintenance pass, plus scheduler and load slack.
    gone = observer.wait("agent_presence_changed", agent_id=21, reason="disconnected", timeout=20)[0]["data"]
    print(f"sockets of the killed process were announced {time.monotonic() - killed_at:.1f}s after SIGKILL")
    assert_change(gone, websocket_connected=False, seq=2)
    stop = observer.wait("typing_stop", agent_id=21)[0]["data"]
    assert stop["chat_id"] == CHAT

    assert presence_of(web2, 21)["connections"] == 0
    two_tabs = presence_of(web2, 22)
    assert (two_tabs["connections"], two_tabs["websocket_connected"]) == (1, True)
    assert not [pid for pid, in sql(database, "SELECT id FROM web_processes") if f":{victim.pid}:" in pid]

    settle(2 * BEAT)
    sentinel(web2, [observer])
    assert [c["reason"] for c in observer.changes(21)] == ["connected", "disconnected"]
    assert [c["reason"] for c in observer.changes(22)] == ["connected"]
    assert len(observer.received("typing_stop", agent_id=21)) == 1


def test_a_close_whose_process_dies_during_the_grace_is_announced_by_the_worker(production, clients):
    grace = 2
    timing = dict(FAST, DISCONNECT_GRACE_SECONDS=grace)
    doomed, web1 = production.web(name="web1", **timing)
    _, web2 = production.web(name="web2", **timing)
    production.worker(**timing)
    observer = clients.console(web2, 23).connect()
    tab = clients.console(web1, 24).connect()
    observer.wait("agent_presence_changed", agent_id=24, reason="connected")

    closed_at = time.monotonic()
    tab.close()
    wait_for(lambda: presence_of(web2, 24)["connections"] == 0, message="the tab uncounted")
    doomed.kill()  # its own settle after the grace dies with it
    assert time.monotonic() - closed_at < grace, "the process died after the grace; the test proves nothing"
    gone = observer.wait("agent_presence_changed", agent_id=24, reason="disconnected")[0]["data"]
    assert time.monotonic() - closed_at >= grace - 0.1
    assert_change(gone, websocket_connected=False, seq=2)

    settle(2 * BEAT)
    sentinel(web2, [observer])
    assert [c["reason"] for c in observer.changes(24)] == ["connected", "disconnected"]


def test_a_paused_web_process_is_reaped_and_on_waking_counts_its_sockets_again(production, clients):
    paused, web1 = production.web(name="web1", **FAST)
    _, web2 = production.web(name="web2", **FAST)
    production.worker(**FAST)
    observer = clients.console(web2, 25).connect()
    sleeper = clients.console(web1, 26).connect()
    observer.wait("agent_presence_changed", agent_id=26, reason="connected")

    os.kill(paused.pid, signal.SIGSTOP)
    try:
        observer.wait("agent_presence_changed", agent_id=26, reason="disconnected", timeout=20)
        assert presence_of(web2, 26)["connections"] == 0
    finally:
        os.kill(paused.pid, signal.SIGCONT)
    back = observer.wait("agent_presence_changed", agent_id=26, reason="connected", count=2)[1]["data"]
    assert_change(back, websocket_connected=True, seq=3)
    assert sleeper.sio.connected and presence_of(web2, 26)["connections"] == 1


# --- isolation between orgs ---------------------------------------------------------------------


def test_presence_and_typing_are_isolated_between_orgs(production, clients):
    _, web1 = production.web(name="web1", **FAST)
    _, web2 = production.web(name="web2", **FAST)
    acme = [clients.console(web1, 40, org="acme").connect(), clients.console(web2, 41, org="acme").connect()]
    globex = [clients.console(web1, 42, org="globex").connect(), clients.console(web2, 43, org="globex").connect()]
    for console in acme + globex:
        assert console.call("join_chat", {"chat_id": CHAT})["ok"] is True
    assert sorted(a["agent_id"] for a in acme[1].received("presence_state")[0]["data"]["agents"]) == [40, 41]
    assert sorted(a["agent_id"] for a in globex[1].received("presence_state")[0]["data"]["agents"]) == [42, 43]

    set_status(web1, 42, "online", "globex news", org="globex")
    assert globex[1].call("typing_start", {"chat_id": CHAT})["started"] is True
    assert acme[0].call("typing_start", {"chat_id": CHAT})["started"] is True
    assert rest(web2, "GET", "/presence/42/", 41, org="acme").status_code == 404

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
