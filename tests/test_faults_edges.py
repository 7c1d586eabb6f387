"""Faults at the edges: ghost sockets, the reaper after an outage, a frozen database, a shift's tokens expiring.

Each test runs real processes on a PostgreSQL cluster (and, where a worker runs, a Redis) of its own,
and stops, freezes and starts them.
"""
import json
import os
import signal
import subprocess
import threading
import time

import pytest
import requests
from sqlalchemy import create_engine, text

from presence_app.config import database_url as sa_url

from .clients import JS_DIR, Rest, node_missing
from .support import bearer, token, wait_for
from .test_faults import own_postgres, own_redis  # noqa: F401 - fixtures
from .test_many_sockets import _open_files

pytestmark = [pytest.mark.processes, pytest.mark.faults]

BEAT, GRACE = 2, 1  # an outage shorter than PROCESS_DEAD_SECONDS (3 beats): no process looks dead
FAST = {"PROCESS_BEAT_SECONDS": BEAT, "DISCONNECT_GRACE_SECONDS": GRACE, "API_RATE_LIMIT": "1000 per second",
        "PRESENCE_TIMEOUT_SECONDS": 60}


def rows(url, statement, **params):
    engine = create_engine(sa_url(url))
    try:
        with engine.connect() as conn:
            return conn.execute(text(statement), params).all()
    finally:
        engine.dispose()


def presence_of(url, agent_id, sub=99):
    answer = Rest(url).call("GET", f"/presence/{agent_id}/", sub)
    return answer.json() if answer.status_code == 200 else None


def test_a_socket_closed_while_postgresql_was_stopped_leaves_no_row(processes, own_postgres, clients):  # noqa: F811
    processes.env.update(DATABASE_URL=own_postgres.url, **{k: str(v) for k, v in FAST.items()})
    _, url = processes.web()  # embedded mode: the jobs run in the web process
    gone = clients.console(url, 7).connect()
    stays = clients.console(url, 8).connect()
    wait_for(lambda: rows(own_postgres.url, "SELECT count(*) FROM connections")[0][0] == 2, message="two rows")
    own_postgres.stop()
    gone.close()  # its disconnect write fails: the database is away
    time.sleep(1)
    own_postgres.start()
    back = time.monotonic()
    wait_for(lambda: rows(own_postgres.url, "SELECT count(*) FROM connections WHERE agent_id = 7")[0][0] == 0,
             timeout=10, message="the closed socket's row dropped")
    dropped = time.monotonic() - back
    wait_for(lambda: (presence_of(url, 7) or {}).get("websocket_connected") is False, timeout=10,
             message="agent 7 announced disconnected")
    announced = time.monotonic() - back
    seven, eight = presence_of(url, 7), presence_of(url, 8)
    print(f"\nghost socket: row dropped {dropped:.2f}s after PostgreSQL returned, "
          f"agent disconnected after {announced:.2f}s (beat {BEAT}s, grace {GRACE}s)")
    assert dropped <= 2 * BEAT + 1
    assert (seven["connections"], seven["is_available"]) == (0, False)
    assert (eight["connections"], eight["websocket_connected"]) == (1, True), "a live socket keeps its row"
    assert stays.sio.connected


def reaped_at(url):
    return rows(url, "SELECT reaped_at FROM hearing WHERE id = 1")[0][0]


def test_the_reaper_takes_no_process_for_dead_after_a_long_outage(processes, own_postgres,  # noqa: F811
                                                                   clean_redis, clients):
    settings = dict(FAST, PROCESS_BEAT_SECONDS=1)  # dead after 3 s
    processes.env.update(DATABASE_URL=own_postgres.url, REDIS_URL=clean_redis,
                         **{k: str(v) for k, v in settings.items()})
    web, url = processes.web()
    processes.worker()
    console = clients.console(url, 7).connect()
    wait_for(lambda: rows(own_postgres.url, "SELECT count(*) FROM hearing WHERE reaping_since < reaped_at - "
                          "interval '4 seconds'")[0][0], timeout=30, message="the reaper running for 4 s")
    own_postgres.stop()
    time.sleep(5)  # longer than PROCESS_DEAD_SECONDS: no beat of the web process was heard
    os.kill(web.pid, signal.SIGSTOP)  # the reaper, not the web process, is the first to reach the database
    try:
        own_postgres.start()
        first = wait_for(lambda: reaped_at(own_postgres.url), timeout=10, message="a reaper pass after the outage")
        wait_for(lambda: reaped_at(own_postgres.url) > first, timeout=10, message="a second reaper pass")
    finally:
        os.kill(web.pid, signal.SIGCONT)
    time.sleep(3)
    ledger = rows(own_postgres.url, "SELECT reason FROM presence_changes WHERE agent_id = 7 ORDER BY seq")
    reasons = [reason for (reason,) in ledger]
    sockets = rows(own_postgres.url, "SELECT count(*) FROM connections WHERE agent_id = 7")[0][0]
    print(f"\nreaper after a 5 s outage (dead after 3 s): ledger of the live agent {reasons}, sockets {sockets}")
    assert "disconnected" not in reasons, "a live process was taken for dead"
    assert sockets == 1 and console.sio.connected


# Every REST path that reads or writes the database, as an agent or a supervisor calls it.
FROZEN_CALLS = [
    ("GET", "/presence/me/", None), ("POST", "/presence/set-status/", {"status": "busy", "message": "m"}),
    ("POST", "/presence/heartbeat/", None), ("GET", "/presence/", None), ("GET", "/presence/counts/", None),
    ("GET", "/presence/2/", None), ("POST", "/presence/activity/", {"idle": True}), ("GET", "/reason-codes/", None),
    ("GET", "/presence/1/history/", None), ("GET", "/reports/time-in-status/", None),
    ("POST", "/typing/", {"chat_id": "c1"}), ("DELETE", "/typing/", {"chat_id": "c1"}),
    ("POST", "/presence/2/set-status/", {"status": "online", "message": ""}),
]


def timed(method, url, body=None, headers=None):
    started = time.monotonic()
    try:
        status = requests.request(method, url, json=body, headers=headers, timeout=30).status_code
    except requests.RequestException as exc:
        status = repr(exc)
    return status, time.monotonic() - started


def test_a_frozen_postgresql_answers_503_within_10_seconds_and_serves_again_after_thaw(processes, clients,
                                                                                        own_postgres):  # noqa: F811
    processes.env.update(DATABASE_URL=own_postgres.url, **{k: str(v) for k, v in FAST.items()})
    web, url = processes.web()
    rest = Rest(url)
    for sub in (1, 2, 3):
        rest.set_status(sub, "online")
    console = clients.console(url, 3).connect()
    answers = {}

    def call(index, method, path, body):
        answers[(method, path)] = timed(method, f"{url}/api/v1{path}", body, bearer(1, role="supervisor"))

    own_postgres.freeze()
    try:
        time.sleep(0.5)
        threads = [threading.Thread(target=call, args=(i, *c)) for i, c in enumerate(FROZEN_CALLS)]
        threads.append(threading.Thread(target=lambda: answers.update(health=timed("GET", f"{url}/health"))))
        acked = {}

        def ack():
            started = time.monotonic()
            acked["ack"] = console.sio.call("heartbeat", {}, timeout=30)
            acked["seconds"] = time.monotonic() - started

        threads.append(threading.Thread(target=ack))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=40)
        late = timed("POST", f"{url}/api/v1/presence/heartbeat/", None, bearer(2))  # once the pool is all broken
    finally:
        own_postgres.thaw()
    thawed = time.monotonic()
    wait_for(lambda: rest.call("POST", "/presence/heartbeat/", 2).status_code == 200, timeout=15, interval=0.1,
             message="REST served again after the thaw")
    recovered = time.monotonic() - thawed
    ack_again = console.call("heartbeat", {})
    slowest = max(seconds for _, seconds in answers.values())
    print(f"\nPostgreSQL frozen: {len(answers)} REST paths answered {sorted({s for s, _ in answers.values()})}, "
          f"slowest {slowest:.2f}s ({max(answers, key=lambda k: answers[k][1])}); "
          f"socket ack {acked['ack'].get('error')} in {acked['seconds']:.2f}s; "
          f"a later call {late[0]} in {late[1]:.2f}s; served again {recovered:.2f}s after the thaw")
    assert all(status == 503 for status, _ in answers.values()), answers
    assert slowest < 10 and acked["seconds"] < 10 and late[0] == 503 and late[1] < 10
    assert (acked["ack"]["ok"], acked["ack"]["error"]) == (False, "service_unavailable")
    assert recovered < 10 and ack_again["ok"]
    assert console.sio.connected and web.alive()


SHIFT = 650  # sockets whose tokens share one exp


@pytest.mark.skipif(node_missing() is not None, reason=str(node_missing()))
def test_a_shifts_tokens_expiring_together_close_every_socket_within_5_seconds(processes, tmp_path, database):
    _, url = processes.web(**FAST)
    exp = int(time.time()) + 25  # time to connect them all first
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(token(sub, exp=exp) for sub in range(1, SHIFT + 1)))
    node = subprocess.Popen(["node", os.path.join(JS_DIR, "expiry.mjs"), url, str(tokens), "60"], cwd=JS_DIR,
                            stdout=subprocess.PIPE, text=True, preexec_fn=_open_files(SHIFT + 512))
    try:
        opened = json.loads(node.stdout.readline())
        assert (opened["connected"], opened["errors"]) == (SHIFT, []), opened
        assert time.time() < exp, "connecting took past exp: nothing measured"
        wait_for(lambda: database.rows("SELECT count(*) FROM connections")[0][0] == SHIFT, timeout=20,
                 message="every socket counted")
        closed = json.loads(node.stdout.readline())
    finally:
        node.kill()
    last = closed["last_close"] / 1000 - exp
    first = closed["first_close"] / 1000 - exp
    wait_for(lambda: database.rows("SELECT count(*) FROM connections")[0][0] == 0, timeout=5,
             message="every row dropped")
    print(f"\n{SHIFT} sockets with one exp: first closed {first:.2f}s after exp, last {last:.2f}s; "
          f"{closed['session_expired']} told session_expired")
    assert closed["closed"] == SHIFT and closed["session_expired"] == SHIFT
    assert last <= 5
