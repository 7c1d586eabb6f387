"""A socket lives only as long as its token, within its budget and ceilings; a flood harms only itself."""
import statistics
import threading
import time

import jwt as pyjwt
import pytest

from presence_app.models import PresenceChange, TypingIndicator

from .clients import Rest
from .inprocess import count
from .support import FAST, ISO_Z, token, wait_for

UNAUTHORIZED = {"ok": False, "error": "unauthorized"}


def refusal(ack, error):
    assert set(ack) == {"ok", "error", "message", "details"} and ack["message"], ack
    return (ack["ok"], ack["error"]) == (False, error)


# expiry and refresh


def test_events_after_the_tokens_exp_are_refused_and_change_nothing(app, connect):
    sio = connect(7, exp_in=2)
    assert sio.emit("heartbeat", {}, callback=True)["ok"]
    before = count(app, PresenceChange)
    time.sleep(2.1)
    for event, data in [("heartbeat", {}), ("set_status", {"status": "busy"}), ("typing_start", {"chat_id": "1"}),
                        ("join_chat", {"chat_id": "1"}), ("refresh_token", {"token": token(7)})]:
        ack = sio.emit(event, data, callback=True)
        assert refusal(ack, "unauthorized") and "expired" in ack["message"], (event, ack)
    assert count(app, PresenceChange) == before and count(app, TypingIndicator) == 0


def test_refresh_token_extends_the_session_of_the_same_agent_only(app, connect):
    sio = connect(7, exp_in=2, org="acme")
    fresh = token(7, exp_in=600, org="acme")
    for wrong in [token(8, org="acme"), token(7, org="other"), token(7, exp_in=-5, org="acme"),
                  token(7, org="acme", secret="another-secret-that-is-also-long-enough-for-hs256"), "garbage", None]:
        ack = sio.emit("refresh_token", {"token": wrong}, callback=True)
        assert refusal(ack, "unauthorized"), (wrong, ack)
    assert refusal(sio.emit("refresh_token", {}, callback=True), "unauthorized")
    assert refusal(sio.emit("refresh_token", {"token": fresh, "extra": 1}, callback=True), "unauthorized")

    ack = sio.emit("refresh_token", {"token": fresh}, callback=True)
    assert ack["ok"] is True and set(ack) == {"ok", "expires_at"} and ISO_Z.fullmatch(ack["expires_at"])
    time.sleep(2.1)
    assert sio.emit("heartbeat", {}, callback=True)["ok"]  # alive past the first token's exp


def test_a_refused_refresh_leaves_the_session_as_it_was(app, connect):
    sio = connect(7, exp_in=2)
    assert refusal(sio.emit("refresh_token", {"token": token(8)}, callback=True), "unauthorized")
    time.sleep(2.1)
    assert refusal(sio.emit("heartbeat", {}, callback=True), "unauthorized")


@pytest.mark.processes
def test_an_expired_socket_is_told_and_disconnected_within_5_seconds(processes, clients):
    _, url = processes.web(**FAST)
    short = token(7, exp_in=3)
    exp = pyjwt.decode(short, options={"verify_signature": False})["exp"]
    console = clients.console(url, 7, auth={"token": short}).connect()
    other = clients.console(url, 8).connect()
    [expired] = console.wait("session_expired", timeout=10)
    assert expired["event"] == "session_expired" and set(expired["data"]) == {"expired_at"}
    assert ISO_Z.fullmatch(expired["data"]["expired_at"])
    wait_for(lambda: not console.sio.connected, timeout=6, message="the expired socket to be closed")
    assert time.time() - exp < 5
    assert other.sio.connected and other.call("heartbeat", {})["ok"]
    wait_for(lambda: Rest(url).get(8, 7)["connections"] == 0, message="its socket uncounted")


@pytest.mark.processes
def test_a_refreshed_socket_outlives_its_first_token(processes, clients):
    _, url = processes.web(**FAST)
    console = clients.console(url, 7, exp_in=2).connect()
    assert console.call("refresh_token", {"token": token(7, exp_in=600)})["ok"]
    time.sleep(4)
    assert console.sio.connected and console.call("heartbeat", {})["ok"]
    assert console.received("session_expired") == []


# budget and ceilings


@pytest.fixture
def limited_app(make_app):
    """An app with small socket limits."""
    return make_app(SOCKET_RATE_LIMIT="5 per minute", MAX_CHATS_PER_SOCKET=3, MAX_SOCKETS_PER_AGENT=2)


@pytest.fixture
def limited(limited_app):
    """Flask-SocketIO test clients of limited_app: limited(sub, **claims)."""
    from presence_app.extensions import socketio

    opened = []

    def factory(sub, **claims):
        sio = socketio.test_client(limited_app, auth={"token": token(sub, **claims)},
                                   flask_test_client=limited_app.test_client())
        opened.append(sio)
        return sio

    yield factory
    for sio in opened:
        if sio.is_connected():
            sio.disconnect()


def test_the_socket_budget_refuses_the_excess_and_writes_nothing(limited_app, limited):
    sio = limited(7)
    acks = [sio.emit("typing_start", {"chat_id": f"c{i}"}, callback=True) for i in range(8)]
    assert [a["ok"] for a in acks] == [True] * 5 + [False] * 3
    assert all(refusal(a, "too_many_requests") for a in acks[5:])
    assert count(limited_app, TypingIndicator) == 5
    assert refusal(sio.emit("nope", {}, callback=True), "too_many_requests")  # unknown events count too
    assert limited(8).emit("heartbeat", {}, callback=True)["ok"]  # per socket, not per process


def test_a_socket_joins_at_most_max_chats_per_socket(limited):
    sio = limited(7)
    assert [sio.emit("join_chat", {"chat_id": c}, callback=True)["ok"] for c in ("a", "b", "c")] == [True] * 3
    ack = sio.emit("join_chat", {"chat_id": "d"}, callback=True)
    assert refusal(ack, "limit_exceeded") and "3 chats" in ack["message"]
    assert sio.emit("join_chat", {"chat_id": "a"}, callback=True)["ok"]  # one it is in already
    assert limited(8).emit("join_chat", {"chat_id": "d"}, callback=True)["ok"]  # another socket has its own


def test_an_agent_holds_at_most_max_sockets_per_agent(limited_app, limited):
    first, second = limited(7), limited(7)
    assert first.is_connected() and second.is_connected()
    third = limited(7)
    assert not third.is_connected()
    with limited_app.test_client() as http:
        me = http.get("/api/v1/presence/me/", headers={"Authorization": f"Bearer {token(7)}"}).json
    assert me["connections"] == 2
    first.disconnect()
    assert limited(7).is_connected()
    assert limited(8).is_connected()  # per agent


@pytest.mark.processes
def test_the_socket_ceiling_holds_across_processes_and_says_why(processes, clients):
    (_, url1), (_, url2) = processes.web(name="web1", MAX_SOCKETS_PER_AGENT=2, **FAST), \
        processes.web(name="web2", MAX_SOCKETS_PER_AGENT=2, **FAST)
    clients.console(url1, 7).connect()
    clients.console(url2, 7).connect()
    refused = clients.console(url1, 7).refused()["connect_error"]
    assert refused["message"].startswith("an agent holds at most 2 live sockets")
    assert refused["data"] == {"error": "limit_exceeded", "message": refused["message"], "details": {}}
    assert Rest(url2).me(7)["connections"] == 2


# a flood harms only the flooder


@pytest.mark.processes
def test_a_flooding_socket_never_slows_a_colleagues_requests(processes, clients, database):
    _, url = processes.web(**FAST)
    api = Rest(url)
    api.heartbeat(2)
    quiet = [_timed(api, 2) for _ in range(20)]
    flooder = clients.console(url, 1).connect()
    acks, done = [], threading.Event()

    def flood():
        for i in range(1500):
            flooder.sio.emit("typing_start", {"chat_id": f"c{i % 300}"}, callback=acks.append)
        done.set()

    thread = threading.Thread(target=flood)
    thread.start()
    during = []
    while not done.is_set() or len(during) < 20:
        during.append(_timed(api, 2))
    thread.join(30)
    wait_for(lambda: len(acks) == 1500, timeout=30, message="every flooded event acknowledged")

    accepted = [a for a in acks if a["ok"]]
    assert len(accepted) <= 20 * 5 + 20, "the budget admits about SOCKET_RATE_LIMIT events a second"
    assert all(a["error"] == "too_many_requests" for a in acks if not a["ok"])
    assert database.typing_count() == len({a["chat_id"] for a in accepted})
    assert statistics.quantiles(during, n=20)[-1] < max(0.25, 10 * statistics.median(quiet)), (quiet, during)


def _timed(api, sub):
    started = time.monotonic()
    api.heartbeat(sub)
    return time.monotonic() - started
