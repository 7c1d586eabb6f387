"""Batched presence: diff-mode sockets get one presence_diff per window; v1 sockets are unchanged.

Also the shared snapshot: sockets that connect within a window get one roster built for all of
them, and only ever their own org's.
"""
import time

import pytest

from .clients import Rest
from .inprocess import data_of, drain, set_status
from .support import CHANGE_FIELDS, FAST, token, wait_for

WINDOW_MS = 300


@pytest.fixture
def app(make_app):
    return make_app(PRESENCE_BATCH_MS=WINDOW_MS, API_RATE_LIMIT="1000 per second")


def diffs(sio):
    return data_of(drain(sio), "presence_diff")


def diff_socket(connect, sub, **claims):
    """A diff-mode test client, once it has its roster (which holds its own connect: no diff brings it)."""
    sio = connect(sub, auth={"token": token(sub, **claims), "presence": "diff"})
    received = []
    wait_for(lambda: received.extend(drain(sio)) or any(name == "presence_state" for name, _ in received),
             timeout=5, interval=0.02, message="presence_state")
    assert data_of(received, "presence_diff") == []
    return sio


def wait_diffs(sio, count=1, timeout=5):
    """The presence_diff data a test client received, once `count` of them arrived."""
    received = []

    def arrived():
        received.extend(diffs(sio))
        return len(received) >= count

    wait_for(arrived, timeout=timeout, interval=0.02, message=f"{count} presence_diff")
    return received


def test_a_diff_socket_gets_the_latest_change_of_each_agent_once_per_window(client, connect):
    diff = diff_socket(connect, 50)
    v1 = connect(51)
    time.sleep(WINDOW_MS / 1000 + 0.1)  # 51's connect announced
    drain(diff), drain(v1)

    set_status(client, 1, "busy", "first")
    set_status(client, 1, "away", "second")  # same window: only this one travels
    set_status(client, 2, "online")
    [batch] = wait_diffs(diff)
    assert set(batch) == {"changes", "server_time", "cursor"}
    assert [(c["agent_id"], c["status"], c["message"], c["seq"]) for c in batch["changes"]] == [
        (1, "away", "second", 2), (2, "online", "", 1)]
    assert all(set(c) == CHANGE_FIELDS for c in batch["changes"])
    assert data_of(drain(diff), "agent_presence_changed") == []
    time.sleep(WINDOW_MS / 1000 + 0.2)
    assert diffs(diff) == [], "one batch per window that had changes, no empty ones"

    # The v1 socket saw every change, one event each, as before.
    v1_changes = data_of(drain(v1), "agent_presence_changed")
    assert [(c["agent_id"], c["seq"]) for c in v1_changes] == [(1, 1), (1, 2), (2, 1)]
    assert data_of(drain(v1), "presence_diff") == []


def test_changes_of_the_next_window_come_in_the_next_batch(client, connect):
    diff = diff_socket(connect, 50)
    set_status(client, 1, "busy")
    first = wait_diffs(diff)
    set_status(client, 1, "online")
    second = wait_diffs(diff)
    assert [c["seq"] for c in first[0]["changes"]] == [1]
    assert [(c["status"], c["seq"]) for c in second[0]["changes"]] == [("online", 2)]


def test_connects_are_batched_for_diff_sockets(app, client, connect):
    from presence_app.extensions import socketio

    diff = diff_socket(connect, 50)
    herd = [socketio.test_client(app, auth={"token": token(sub)}, flask_test_client=client) for sub in range(1, 6)]
    announced = []

    def all_announced():
        announced.extend(diffs(diff))
        return len([c for batch in announced for c in batch["changes"]]) >= 5

    wait_for(all_announced, timeout=5, message="five connects announced")
    changes = [c for batch in announced for c in batch["changes"]]
    assert sorted((c["agent_id"], c["reason"]) for c in changes) == [(sub, "connected") for sub in range(1, 6)]
    assert len(announced) <= 2, "five connects in a row, one or two windows"
    for sio in herd:
        sio.disconnect()


def test_a_diff_socket_hears_nothing_of_another_org(client, connect):
    diff = diff_socket(connect, 50, org="a")
    set_status(client, 1, "busy", org="a:b")
    set_status(client, 2, "busy", org="a")
    [batch] = wait_diffs(diff)
    assert [c["agent_id"] for c in batch["changes"]] == [2]


def test_a_change_its_roster_holds_never_comes_again_in_a_diff(client, connect):
    early = diff_socket(connect, 50)
    set_status(client, 1, "busy")  # pending in this window when the next socket connects

    late = connect(51, auth={"token": token(51), "presence": "diff"})
    received = []
    wait_for(lambda: received.extend(drain(late)) or data_of(received, "presence_state"), timeout=5,
             interval=0.02, message="presence_state")
    [state] = data_of(received, "presence_state")
    assert {(a["agent_id"], a["status"], a["seq"]) for a in state["agents"]} >= {(1, "busy", 1)}
    set_status(client, 2, "away")  # after its roster: the late socket gets this one
    batches = wait_diffs(early)
    time.sleep(WINDOW_MS / 1000 + 0.2)
    batches += diffs(early)
    received += drain(late)

    assert [(c["agent_id"], c["seq"]) for b in batches for c in b["changes"] if c["agent_id"] in (1, 2)] == [
        (1, 1), (2, 1)]
    late_changes = [(c["agent_id"], c["seq"]) for b in data_of(received, "presence_diff") for c in b["changes"]]
    assert late_changes == [(2, 1)]


def test_the_presence_state_of_a_diff_socket_is_the_same(client, connect):
    set_status(client, 1, "busy", "In a meeting")
    diff = connect(50, auth={"token": token(50), "presence": "diff"})
    v1 = connect(51)
    [state_diff] = data_of(drain(diff), "presence_state")
    [state_v1] = data_of(drain(v1), "presence_state")
    assert set(state_diff) == set(state_v1) == {"agents", "server_time", "cursor"}
    assert [a["agent_id"] for a in state_diff["agents"]] == [1, 50]
    assert [a["agent_id"] for a in state_v1["agents"]] == [1, 50, 51]


@pytest.mark.parametrize("mode", ["DIFF", "v2", 1, None, ""])
def test_an_unknown_presence_mode_is_refused(app, mode):
    from presence_app.extensions import socketio

    sio = socketio.test_client(app, auth={"token": token(5), "presence": mode}, flask_test_client=app.test_client())
    assert not sio.is_connected()


def test_sockets_connecting_together_share_one_snapshot_of_their_own_org(app, client, connect):
    from presence_app.extensions import socketio

    set_status(client, 1, "busy", org="a")
    set_status(client, 2, "busy", org="a:b")
    connect(10, org="a")  # a quiet window ends here: its snapshot went out at once
    together = {sub: socketio.test_client(app, auth={"token": token(sub, org=org)}, flask_test_client=client)
                for sub, org in ((11, "a"), (12, "a"), (13, "a"), (20, "a:b"))}
    states = {}

    def all_arrived():
        for sub, sio in together.items():
            states.setdefault(sub, []).extend(data_of(drain(sio), "presence_state"))
        return all(states[sub] for sub in together)

    wait_for(all_arrived, timeout=5, message="every snapshot")
    shared = [states[sub][0] for sub in (11, 12, 13)]
    assert shared[0] == shared[1] == shared[2], "built once for the sockets of one window"
    assert {a["agent_id"] for a in shared[0]["agents"]} == {1, 10, 11, 12, 13}
    assert {a["agent_id"] for a in states[20][0]["agents"]} == {2, 20}, "never another org's snapshot"
    for sio in together.values():
        sio.disconnect()


@pytest.mark.processes
def test_diff_batches_cross_processes(production, clients):
    production.env.update({k: str(v) for k, v in FAST.items()}, PRESENCE_BATCH_MS=str(WINDOW_MS))
    (_, url1), (_, url2) = production.cluster()
    diff = clients.console(url2, 50, auth={"token": token(50), "presence": "diff"}).connect()
    v1 = clients.console(url2, 51).connect()
    api = Rest(url1)
    api.set_status(1, "busy", "one")
    api.set_status(1, "away", "two")
    api.set_status(2, "online")
    v1.wait("agent_presence_changed", agent_id=2)
    batches = diff.wait("presence_diff")
    time.sleep(WINDOW_MS / 1000 + 0.3)
    changes = [c for payload in diff.received("presence_diff") for c in payload["data"]["changes"]]
    latest = {c["agent_id"]: c for c in changes}
    assert (latest[1]["status"], latest[1]["seq"], latest[2]["status"]) == ("away", 2, "online")
    assert len({(c["agent_id"], c["seq"]) for c in changes}) == len(changes), "each change at most once"
    assert diff.received("agent_presence_changed") == [] and batches
