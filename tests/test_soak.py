"""Soak: simulated agents over two web processes and a worker while faults are injected at random.

Each agent holds one socket (reconnecting by itself; now and then its tab is reloaded: the socket
closes and a new one opens) and, at random, heartbeats (socket or REST), changes its status (socket
or REST, on either web process) and types. Meanwhile, at random: Redis
killed and restarted, PostgreSQL stopped or frozen (SIGSTOP) for a few seconds, a web process
killed (SIGKILL) or stopped (SIGTERM) and started again on its port. At the end, with every fault
over: each agent's presence is what its client last did (its last status answered 200, connected,
one connection), every agent's ledger `seq` is contiguous, and every connection row is a live socket.

Short form (CI, `./dev.py test`): SOAK_SECONDS=120, SOAK_AGENTS=40. Long form:
SOAK_SECONDS=600 SOAK_AGENTS=200 .venv/bin/python -m pytest tests/test_soak.py -m soak -s
"""
import collections
import contextlib
import os
import random
import threading
import time

import pytest
import requests
import socketio
from sqlalchemy import create_engine, text

from presence_app.config import database_url as sa_url

from .faults import RedisServer
from .support import bearer, token, wait_for
from .test_faults import own_postgres  # noqa: F401 - fixture

pytestmark = [pytest.mark.soak, pytest.mark.processes, pytest.mark.faults]

SECONDS = float(os.environ.get("SOAK_SECONDS", "120"))
AGENTS = int(os.environ.get("SOAK_AGENTS", "40"))
STATUSES = ("online", "busy", "away")
SETTINGS = {"PROCESS_BEAT_SECONDS": 1, "DISCONNECT_GRACE_SECONDS": 1, "PRESENCE_TIMEOUT_SECONDS": 30,
            "PRESENCE_SWEEP_SECONDS": 2, "API_RATE_LIMIT": "1000 per second", "SOCKET_RATE_LIMIT": "100 per second",
            "LOG_LEVEL": "WARNING"}
FAULTS = ("redis_kill", "pg_stop", "pg_freeze", "web_kill", "web_term")


class Tally:
    """What the clients saw: REST statuses, ack errors, and how long the slowest answer took."""

    def __init__(self):
        self.lock, self.slowest = threading.Lock(), 0.0
        self.rest, self.acks = collections.Counter(), collections.Counter()

    def rest_answer(self, status, seconds):
        with self.lock:
            self.rest[status] += 1
            self.slowest = max(self.slowest, seconds)

    def ack(self, what):
        with self.lock:
            self.acks[what] += 1


class Agent:
    """One simulated console: a socket of its own, and what it last did."""

    def __init__(self, sub, urls, tally):
        self.sub, self.urls, self.tally = sub, urls, tally
        self.status, self.sure = None, True  # the status of its last set-status answered 200
        self.http = requests.Session()
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=2)
        self.url, self.closed = urls[sub % 2], False

    def open(self):
        """Connect its socket; False if refused (an outage): it tries again at its next step."""
        try:
            self.sio.connect(self.url, auth={"token": token(self.sub, exp_in=7200)}, transports=["websocket"],
                             wait_timeout=20)
        except socketio.exceptions.ConnectionError:
            self.tally.ack("connect refused")
            return False
        return True

    def reload(self):
        """The console's tab is reloaded: its socket closes, a new one opens (maybe during an outage)."""
        self.sio.shutdown()  # disconnect() would leave a reconnection under way: a second live socket
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=2)
        self.closed = not self.open()

    def rest(self, method, path, body=None):
        started = time.monotonic()
        try:
            answer = self.http.request(method, f"{random.choice(self.urls)}/api/v1{path}", json=body,
                                       headers=bearer(self.sub, exp_in=7200), timeout=15)
            status = answer.status_code
        except requests.ConnectionError:
            status = "refused"  # the web process it chose is down
        except requests.RequestException:
            status = "hung"
        self.tally.rest_answer(status, time.monotonic() - started)
        return status

    def emit(self, event, data):
        if not self.sio.connected:
            self.tally.ack("not connected")
            return None
        try:
            ack = self.sio.call(event, data, timeout=15)
        except Exception:  # noqa: BLE001 - the socket closed under the call (a web process killed)
            self.tally.ack("lost")
            return None
        self.tally.ack("ok" if ack.get("ok") else ack.get("error"))
        return ack

    def set_status(self, status):
        body = {"status": status, "message": f"soak {self.sub}"}
        if random.random() < 0.5:
            ok = self.rest("POST", "/presence/set-status/", body) == 200
        else:
            ok = bool((self.emit("set_status", body) or {}).get("ok"))
        # Any answer but a 200 may or may not have changed it (a commit whose reply was lost): retry later.
        self.status, self.sure = (status, True) if ok else (status, False)

    def step(self):
        if self.closed:
            self.closed = not self.open()
            return None
        if not self.sure:
            return self.set_status(self.status)
        roll = random.random()
        if roll < 0.05:
            self.reload()
        elif roll < 0.25:
            self.set_status(random.choice(STATUSES))
        elif roll < 0.5:
            self.rest("POST", "/presence/heartbeat/")
        elif roll < 0.75:
            self.emit("heartbeat", {})
        else:
            chat = f"chat-{self.sub}"
            self.emit("typing_start", {"chat_id": chat})
            self.rest("DELETE", f"/typing/?chat_id={chat}")

    def run(self, stop):
        while not stop.is_set():
            self.step()
            stop.wait(random.uniform(0.5, 2.0))

    def settle(self, deadline):
        """After the faults: make its last status certain (retry until a 200)."""
        while self.closed and time.monotonic() < deadline:
            self.closed = not self.open()
        while not self.sure and time.monotonic() < deadline:
            self.set_status(self.status)
            time.sleep(0.3)


class Chaos:
    """Faults at random, one at a time, each over before the next."""

    def __init__(self, processes, postgres, redis_server, webs):
        self.processes, self.postgres, self.redis, self.webs = processes, postgres, redis_server, webs
        self.done = collections.Counter()

    def inject(self, fault):
        if fault == "redis_kill":
            self.redis.kill()
            time.sleep(random.uniform(2, 4))
            self.redis.start()
        elif fault == "pg_stop":
            self.postgres.stop()
            time.sleep(random.uniform(2, 4))
            self.postgres.start()
        elif fault == "pg_freeze":
            self.postgres.freeze()
            try:
                time.sleep(random.uniform(2, 4))
            finally:
                self.postgres.thaw()
        else:
            index = random.randrange(len(self.webs))
            proc, url = self.webs[index]
            proc.kill() if fault == "web_kill" else proc.stop()
            time.sleep(random.uniform(0.5, 2))
            self.webs[index] = self.processes.web(name=f"web{index + 1}", port=int(url.rsplit(":", 1)[1]))
        self.done[fault] += 1

    def run(self, stop):
        while not stop.wait(random.uniform(4, 9)):
            self.inject(random.choice(FAULTS))


def check(url, agents):
    """What is wrong at the end, per rule (empty when all holds)."""
    engine = create_engine(sa_url(url))
    try:
        with engine.connect() as conn:
            rows = {r.agent_id: r for r in conn.execute(text(
                "SELECT agent_id, status, websocket_connected, connections FROM presence"))}
            sockets = dict(conn.execute(text("SELECT agent_id, count(*) FROM connections GROUP BY agent_id")).all())
            orphans = conn.execute(text("SELECT count(*) FROM connections WHERE process_id NOT IN "
                                        "(SELECT id FROM web_processes)")).scalar()
            gaps = conn.execute(text("SELECT agent_id FROM presence_changes GROUP BY agent_id "
                                     "HAVING count(*) <> max(seq) - min(seq) + 1 OR min(seq) <> 1")).scalars().all()
    finally:
        engine.dispose()
    wrong = {}
    for agent in agents:
        row = rows.get(agent.sub)
        seen = None if row is None else (row.status, row.websocket_connected, row.connections, sockets.get(agent.sub))
        if seen != (agent.status, True, 1, 1):
            wrong[agent.sub] = {"expected": (agent.status, True, 1, 1), "seen": seen}
    return {"presence": wrong, "orphan_rows": orphans, "seq_gaps": gaps}


def test_soak(processes, own_postgres, tmp_path):  # noqa: F811 - fixture
    redis_server = RedisServer(tmp_path).start()
    processes.env.update(DATABASE_URL=own_postgres.url, REDIS_URL=redis_server.url,
                         **{k: str(v) for k, v in SETTINGS.items()})
    webs = [processes.web(name="web1"), processes.web(name="web2")]
    processes.worker()
    tally = Tally()
    agents = [Agent(sub, [url for _, url in webs], tally) for sub in range(1, AGENTS + 1)]
    for agent in agents:
        assert agent.open()
        agent.set_status("online")
    chaos, stop, calm = Chaos(processes, own_postgres, redis_server, webs), threading.Event(), threading.Event()
    threads = [threading.Thread(target=a.run, args=(stop,)) for a in agents]
    faults = threading.Thread(target=chaos.run, args=(calm,))
    try:
        for thread in [*threads, faults]:
            thread.start()
        time.sleep(SECONDS)
        calm.set()
        faults.join(timeout=60)
        time.sleep(2)  # the last fault's aftermath, while agents still act
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        deadline = time.monotonic() + 30
        for agent in agents:
            agent.settle(deadline)
        wait_for(lambda: all(a.sio.connected for a in agents), timeout=30, message="every socket back")
        with contextlib.suppress(AssertionError):  # reported below, with what is wrong
            wait_for(lambda: not any(check(own_postgres.url, agents).values()), timeout=30, interval=1,
                     message="presence as the clients left it")
        wrong = check(own_postgres.url, agents)
    finally:
        stop.set()
        calm.set()
        for agent in agents:
            agent.sio.shutdown()
        redis_server.stop()
    other_5xx = sum(n for status, n in tally.rest.items() if isinstance(status, int) and status > 503)
    other_5xx += sum(n for status, n in tally.rest.items() if status in (500, 501, 502))
    print(f"\nsoak {SECONDS:.0f}s, {AGENTS} agents, faults {dict(chaos.done)}: REST {sum(tally.rest.values())} "
          f"answers {dict(tally.rest)}, slowest {tally.slowest:.2f}s; acks {dict(tally.acks)}; "
          f"wrong at the end: {wrong}")
    assert sum(chaos.done.values()) >= min(3, SECONDS // 15)
    assert other_5xx == 0 and tally.rest["hung"] == 0
    assert tally.acks["internal_error"] == 0
    assert wrong == {"presence": {}, "orphan_rows": 0, "seq_gaps": []}
