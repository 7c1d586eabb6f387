"""Socket.IO across real processes: tabs on two processes, the disconnect grace, web processes killed or paused.

Real `web` (eventlet) processes and a `worker` share the test Redis. Every wait is for an
event, bounded; the fixed waits are windows in which nothing may happen, each followed by a
sentinel change that every observer must see, so that anything sent before it has arrived.
"""
import os
import signal
import time

import pytest

from .clients import Rest, sentinel, settle
from .support import BEAT, CHAT, FAST, assert_change, wait_for

pytestmark = pytest.mark.processes

GRACE = 2  # long enough to reload a page, or kill its process, within it
TIMING = dict(FAST, DISCONNECT_GRACE_SECONDS=GRACE)


def tab_seen_by(observer, clients, url, sub):
    """Open a console tab of agent `sub` on `url`; wait until `observer` has heard it connect."""
    tab = clients.console(url, sub).connect()
    observer.wait("agent_presence_changed", agent_id=sub, reason="connected")
    return tab


def close(tab, api, left=0):
    """Close `tab`; wait until `api` counts `left` sockets of its agent; return when it was closed."""
    closed_at = time.monotonic()
    tab.close()
    wait_for(lambda: api.me(tab.sub)["connections"] == left, message=f"agent {tab.sub} down to {left} sockets")
    return closed_at


def test_two_tabs_on_two_processes_closing_one_changes_nothing_closing_both_announces_once(production, clients):
    (_, web1), (_, web2) = production.cluster(**TIMING)
    api1, api2 = Rest(web1), Rest(web2)
    observer = clients.console(web1, 10).connect()
    tab1 = tab_seen_by(observer, clients, web1, 11)
    tab2 = clients.console(web2, 11).connect()
    assert api1.me(11)["connections"] == 2

    closed_at = close(tab1, api2, left=1)
    settle(closed_at + GRACE + 2 * BEAT - time.monotonic())  # past the grace and a backstop pass
    assert observer.changes(11) and [c["reason"] for c in observer.changes(11)] == ["connected"]
    assert api1.me(11)["websocket_connected"] is True

    closed_at = time.monotonic()
    tab2.close()
    def no_tab_left():
        me = api1.me(11)
        return me if me["connections"] == 0 else None

    during = wait_for(no_tab_left, message="no tab left")
    assert during["websocket_connected"] is True, "announced state stays connected during the grace"
    gone = observer.wait("agent_presence_changed", agent_id=11, reason="disconnected")[0]["data"]
    assert time.monotonic() - closed_at >= GRACE - 0.1
    assert_change(gone, websocket_connected=False, is_available=False, status="offline", seq=2)

    settle(2 * BEAT)  # the backstop must not announce it again
    sentinel(web2, [observer])
    assert [(c["seq"], c["reason"]) for c in observer.changes(11)] == [(1, "connected"), (2, "disconnected")]


def test_reload_on_another_process_within_the_grace_announces_nothing(production, clients):
    (_, web1), (_, web2) = production.cluster(**TIMING)
    observer = clients.console(web2, 12).connect()
    before = tab_seen_by(observer, clients, web1, 13)

    closed_at = close(before, Rest(web1))
    after = clients.console(web2, 13).connect()
    assert time.monotonic() - closed_at < GRACE, "the reload took longer than the grace; the test proves nothing"
    [mine] = [a for a in after.received("presence_state")[0]["data"]["agents"] if a["agent_id"] == 13]
    assert (mine["websocket_connected"], mine["connections"]) == (True, 1)

    settle(closed_at + GRACE + 2 * BEAT - time.monotonic())  # past the first page's grace and a backstop pass
    sentinel(web1, [observer])
    assert [c["reason"] for c in observer.changes(13)] == ["connected"]
    me = Rest(web1).me(13)
    assert (me["connections"], me["websocket_connected"], me["seq"]) == (1, True, 1)


def test_sigkill_of_a_web_process_uncounts_its_sockets_and_a_start_wipes_nothing(production, clients, database):
    (victim, web1), (survivor, web2) = production.cluster(**FAST)
    api = Rest(web2)
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
        return {pid: at for pid, at in database.rows("SELECT id, beat_at FROM web_processes")}
    first = beats()
    assert sorted(int(pid.split(":")[1]) for pid in first) == sorted([victim.pid, survivor.pid])
    def both_beat():
        now = beats()
        return now.keys() == first.keys() and all(now[pid] > first[pid] for pid in first)

    wait_for(both_beat, timeout=10, message="both processes beat")

    # A third process starting wipes nothing.
    processes_before = database.rows("SELECT sid, process_id FROM connections ORDER BY sid")
    production.web(name="web3", **FAST)
    assert database.rows("SELECT sid, process_id FROM connections ORDER BY sid") == processes_before
    assert (api.me(21)["connections"], api.me(22)["connections"]) == (1, 2)

    killed_at = time.monotonic()
    victim.kill()
    # Bound: dead after 3 beats, plus one maintenance pass, plus scheduler and load slack.
    gone = observer.wait("agent_presence_changed", agent_id=21, reason="disconnected", timeout=20)[0]["data"]
    print(f"sockets of the killed process were announced {time.monotonic() - killed_at:.1f}s after SIGKILL")
    assert_change(gone, websocket_connected=False, seq=2)
    stop = observer.wait("typing_stop", agent_id=21)[0]["data"]
    assert stop["chat_id"] == CHAT

    assert api.me(21)["connections"] == 0
    two_tabs = api.me(22)
    assert (two_tabs["connections"], two_tabs["websocket_connected"]) == (1, True)
    assert not [pid for pid, in database.rows("SELECT id FROM web_processes") if f":{victim.pid}:" in pid]

    settle(2 * BEAT)
    sentinel(web2, [observer])
    assert [c["reason"] for c in observer.changes(21)] == ["connected", "disconnected"]
    assert [c["reason"] for c in observer.changes(22)] == ["connected"]
    assert len(observer.received("typing_stop", agent_id=21)) == 1


def test_a_close_whose_process_dies_during_the_grace_is_announced_by_the_worker(production, clients):
    (doomed, web1), (_, web2) = production.cluster(**TIMING)
    observer = clients.console(web2, 23).connect()
    tab = tab_seen_by(observer, clients, web1, 24)

    closed_at = close(tab, Rest(web2))
    doomed.kill()  # its own settle after the grace dies with it
    assert time.monotonic() - closed_at < GRACE, "the process died after the grace; the test proves nothing"
    gone = observer.wait("agent_presence_changed", agent_id=24, reason="disconnected")[0]["data"]
    assert time.monotonic() - closed_at >= GRACE - 0.1
    assert_change(gone, websocket_connected=False, seq=2)

    settle(2 * BEAT)
    sentinel(web2, [observer])
    assert [c["reason"] for c in observer.changes(24)] == ["connected", "disconnected"]


def test_a_paused_web_process_is_reaped_and_on_waking_counts_its_sockets_again(production, clients):
    (paused, web1), (_, web2) = production.cluster(**FAST)
    api = Rest(web2)
    observer = clients.console(web2, 25).connect()
    sleeper = tab_seen_by(observer, clients, web1, 26)

    os.kill(paused.pid, signal.SIGSTOP)
    try:
        observer.wait("agent_presence_changed", agent_id=26, reason="disconnected", timeout=20)
        assert api.me(26)["connections"] == 0
    finally:
        os.kill(paused.pid, signal.SIGCONT)
    back = observer.wait("agent_presence_changed", agent_id=26, reason="connected", count=2)[1]["data"]
    assert_change(back, websocket_connected=True, seq=3)
    assert sleeper.sio.connected and api.me(26)["connections"] == 1
