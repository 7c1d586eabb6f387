"""Faults: real servers of the test's own are killed, frozen and restarted under real processes.

Redis: SIGKILL and restart (REST answers throughout; cross-process events back within 10 s;
sweeps back within two periods), the Socket.IO subscriber killed (delivery back within 5 s),
SIGSTOP for 10 s (heartbeats answer within a second). PostgreSQL: stopped for longer than the
timeout while REST-only agents keep heartbeating (503 meanwhile, nobody timed out after).
The worker killed for several sweep periods. A web process stopped with SIGTERM, and a rolling
restart of every web process.
"""
import statistics
import threading
import time
from datetime import UTC, datetime

import pytest
import requests
import socketio
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from presence_app import create_app
from presence_app.config import database_url as sa_url
from presence_app.extensions import db
from presence_app.runtime import LEADER_KEY

from .clients import Rest
from .faults import PostgresCluster, RedisServer, why_no_postgres
from .support import SECRET, bearer, running, token, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.faults]

TIMEOUT, SWEEP, BEAT, GRACE = 4, 2, 1, 1
FAST = {"PRESENCE_TIMEOUT_SECONDS": TIMEOUT, "PRESENCE_SWEEP_SECONDS": SWEEP, "PROCESS_BEAT_SECONDS": BEAT,
        "DISCONNECT_GRACE_SECONDS": GRACE, "API_RATE_LIMIT": "1000 per second"}


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def on_own_redis(processes, own_redis):
    """Processes in production mode on the test's own Redis, with timeouts of seconds."""
    processes.env.update(REDIS_URL=own_redis.url, **{k: str(v) for k, v in FAST.items()})
    return processes


def db_now():
    return datetime.now(UTC).replace(tzinfo=None)


def swept_at(url):
    engine = create_engine(sa_url(url))
    with engine.connect() as conn:
        value = conn.execute(text("SELECT swept_at FROM hearing WHERE id = 1")).scalar()
    engine.dispose()
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class Hammer:
    """REST heartbeats of some agents in a loop: every status code and latency, while it runs."""

    def __init__(self, url, subs, every=0.1):
        self.url, self.subs, self.every = url, subs, every
        self.results, self.stop = [], threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(sub,)) for sub in subs]

    def _run(self, sub):
        http = requests.Session()
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                status = http.post(f"{self.url}/api/v1/presence/heartbeat/", headers=bearer(sub),
                                   timeout=10).status_code
            except requests.RequestException as exc:
                status = repr(exc)
            self.results.append((started, status, time.monotonic() - started))
            self.stop.wait(self.every)

    def statuses(self):
        return sorted({str(status) for _, status, _ in self.results})

    def slowest(self):
        return max(seconds for _, _, seconds in self.results)


def cross_process_delay(rest, sub, observer, limit):
    """Seconds until a change made on one web process reaches a client of another one."""
    started = time.monotonic()
    for attempt in range(int(limit / 0.25) + 1):
        message = f"probe {attempt} {time.monotonic_ns()}"
        rest.set_status(sub, "online", message)
        try:
            observer.wait("agent_presence_changed", agent_id=sub, message=message, timeout=0.25)
            return time.monotonic() - started
        except AssertionError:
            continue
    raise AssertionError(f"no cross-process delivery within {limit}s")


def leading(own_redis):
    """Wait until a worker leads the scheduler on the test's Redis."""
    wait_for(lambda: own_redis.client().exists(LEADER_KEY), timeout=30, message="a worker leading the scheduler")


def test_redis_killed_and_restarted(on_own_redis, own_redis, clients, fresh_db):
    (_, url1), (_, url2) = on_own_redis.cluster()
    leading(own_redis)
    rest = Rest(url1)
    observer = clients.console(url2, 100).connect()
    assert cross_process_delay(rest, 1, observer, limit=10) < 10
    hammer = Hammer(url1, [2, 3])
    with running(hammer.threads, hammer.stop):
        time.sleep(0.5)
        own_redis.kill()
        assert rest.set_status(1, "busy", "during the outage")["status"] == "busy"
        assert Rest(url2).heartbeat(4)[1]["agent_id"] == 4
        health = requests.get(f"{url1}/health", timeout=10)
        assert health.status_code == 200 and health.json()["redis"] == "error"
        assert health.json()["status"] == "degraded"
        time.sleep(3)
        own_redis.start()
        back = db_now()
        delay = cross_process_delay(rest, 1, observer, limit=10)
        wait_for(lambda: (swept_at(fresh_db) or back) > back, timeout=2 * SWEEP + 3, message="a sweep after Redis")
        swept = (swept_at(fresh_db) - back).total_seconds()
        time.sleep(0.5)
    print(f"\nRedis back: cross-process events after {delay:.2f}s, first sweep after {swept:.2f}s; "
          f"heartbeats {hammer.statuses()} slowest {hammer.slowest():.2f}s")
    assert hammer.statuses() == ["200"]
    assert delay <= 10
    assert swept <= 2 * SWEEP


def test_the_socketio_subscriber_killed_comes_back_within_5_seconds(on_own_redis, own_redis, clients):
    (_, url1), (_, url2) = on_own_redis.cluster()
    rest = Rest(url1)
    observer = clients.console(url2, 100).connect()
    assert cross_process_delay(rest, 1, observer, limit=10) < 10
    killed = own_redis.client().client_kill_filter(_type="pubsub")
    assert killed >= 1  # web2's subscriber (a process subscribes once it has a socket)
    delay = cross_process_delay(rest, 1, observer, limit=10)
    print(f"\nsubscribers killed: delivery back after {delay:.2f}s")
    assert delay <= 5


def test_a_frozen_redis_never_holds_a_request(on_own_redis, own_redis, clients):
    (_, url1), (_, url2) = on_own_redis.cluster()
    rest = Rest(url1)
    observer = clients.console(url2, 100).connect()
    hammer = Hammer(url1, [2, 3], every=0.2)
    with running(hammer.threads, hammer.stop):
        time.sleep(0.5)
        own_redis.freeze()
        try:
            started = time.monotonic()
            answer = rest.set_status(1, "busy", "frozen")
            set_status_seconds = time.monotonic() - started
            time.sleep(10)
        finally:
            own_redis.thaw()
        delay = cross_process_delay(rest, 1, observer, limit=10)
    during = [seconds for _, _, seconds in hammer.results]
    print(f"\nRedis frozen 10s: heartbeats {hammer.statuses()}, median {statistics.median(during) * 1000:.0f} ms, "
          f"slowest {max(during):.2f}s; set-status {set_status_seconds:.2f}s; delivery {delay:.2f}s after thaw")
    assert answer["status"] == "busy" and set_status_seconds < 2
    assert hammer.statuses() == ["200"]
    assert max(during) < 1
    assert delay <= 10


def test_the_worker_killed_for_several_sweeps_times_out_each_silent_agent_once_after(on_own_redis, own_redis,
                                                                                   clients, database):
    (_, url1), _ = on_own_redis.cluster()
    rest = Rest(url1)
    observer = clients.console(url1, 100).connect()
    for sub in (1, 2):
        rest.set_status(sub, "busy", "meeting")
    worker = on_own_redis.procs[-1]
    worker.kill()
    hammer = Hammer(url1, [2], every=0.5)  # agent 2 keeps heartbeating, agent 1 falls silent
    with running(hammer.threads, hammer.stop):
        time.sleep(4 * SWEEP)
        assert database.reasons(1) == ["manual"], "no sweep without a worker"
        on_own_redis.worker(name="worker-again")
        wait_for(lambda: observer.received("agent_presence_changed", agent_id=1, reason="timeout"),
                 timeout=TIMEOUT + 5 * SWEEP + 10,
                 message="agent 1 timed out once the worker is back")
        time.sleep(2 * SWEEP)
    assert database.reasons(1) == ["manual", "timeout"]
    assert database.reasons(2) == ["manual"]
    assert len(observer.received("agent_presence_changed", agent_id=1, reason="timeout")) == 1


@pytest.fixture
def own_postgres():
    reason = why_no_postgres()
    if reason:
        pytest.skip(reason)
    cluster = PostgresCluster().create()
    app = create_app({"APP_ENV": "testing", "JWT_SECRET_KEY": SECRET, "DATABASE_URL": cluster.url,
                      "ASYNC_MODE": "threading", "LOG_LEVEL": "WARNING"})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    yield cluster
    cluster.destroy()


def test_postgresql_down_longer_than_the_timeout_blames_no_agent(processes, own_postgres, own_redis, clients):
    processes.env.update(DATABASE_URL=own_postgres.url, REDIS_URL=own_redis.url,
                         **{k: str(v) for k, v in FAST.items()})
    web, url = processes.web()
    processes.worker()
    rest = Rest(url)
    agents = [1, 2, 3]
    for sub in agents + [9]:
        rest.set_status(sub, "online")
    console = clients.console(url, 50).connect()
    hammer = Hammer(url, agents, every=1.0)  # REST-only agents at a cadence inside the timeout
    with running(hammer.threads, hammer.stop):
        time.sleep(1.5)
        own_postgres.stop()
        stopped = time.monotonic()
        time.sleep(1)
        refused = requests.post(f"{url}/api/v1/presence/heartbeat/", headers=bearer(1), timeout=10)
        health = requests.get(f"{url}/health", timeout=10)
        ack = console.call("heartbeat", {})
        time.sleep(TIMEOUT + 2 - (time.monotonic() - stopped))
        own_postgres.start()
        back = time.monotonic()
        wait_for(lambda: rest.call("POST", "/presence/heartbeat/", 1).status_code == 200, timeout=10,
                 message="REST served again")
        recovered = time.monotonic() - back
        time.sleep(TIMEOUT + 3 * SWEEP)
    assert refused.status_code == 503 and refused.json()["error"] == "service_unavailable"
    assert int(refused.headers["Retry-After"]) > 0
    assert health.status_code == 503 and health.json()["database"] == "error"
    assert (ack["ok"], ack["error"]) == (False, "service_unavailable")
    assert console.sio.connected, "sockets stay open through a database outage"
    assert "503" in hammer.statuses() and recovered <= 10
    engine = create_engine(sa_url(own_postgres.url))
    with engine.connect() as conn:
        reasons = conn.execute(text("SELECT agent_id, reason FROM presence_changes ORDER BY agent_id, seq")).all()
    engine.dispose()
    timed_out = sorted({agent for agent, reason in reasons if reason == "timeout"})
    print(f"\nPostgreSQL down {TIMEOUT + 2}s: REST back {recovered:.2f}s after it; timed out: {timed_out}")
    assert not set(timed_out) & set(agents), "agents heartbeating at their cadence were timed out"
    assert 9 in timed_out, "a truly silent agent still times out"
    assert web.log().count("Traceback") == 0


# clean stops


def test_sigterm_stops_cleanly_within_10_seconds_and_its_agents_get_the_normal_grace(production, clients, database):
    grace = 6  # longer than the reaper takes (3 beats): the announcement's time tells who made it
    production.env.update({k: str(v) for k, v in FAST.items()}, DISCONNECT_GRACE_SECONDS=str(grace))
    doomed, doomed_url = production.web(name="doomed")
    _, url = production.web(name="survivor")
    production.worker()
    observer = clients.console(url, 100).connect()
    agent = clients.console(doomed_url, 7).connect()
    assert agent.call("set_status", {"status": "online", "message": ""})["ok"]
    observer.wait("agent_presence_changed", agent_id=7, status="online")

    started = time.monotonic()
    doomed.stop()  # SIGTERM, as a process manager stops it
    stopped = time.monotonic() - started
    assert doomed.popen.returncode == 0 and stopped <= 10
    assert database.rows("SELECT count(*) FROM web_processes WHERE id LIKE :p", p=f"%:{doomed.pid}:%")[0][0] == 0
    assert database.rows("SELECT count(*) FROM connections WHERE agent_id = 7")[0][0] == 0
    [(arrived, data)] = [(time.monotonic(), p["data"]) for p in observer.wait(
        "agent_presence_changed", agent_id=7, websocket_connected=False, timeout=grace + 10)]
    after = arrived - started
    print(f"\nSIGTERM: exited in {stopped:.2f}s; agent announced disconnected {after:.2f}s after (grace {grace}s)")
    assert data["reason"] == "disconnected" and after >= grace - 1
    assert "Traceback" not in doomed.log()


def test_a_rolling_restart_announces_no_offline_and_no_disconnect(production, database):
    production.env.update({k: str(v) for k, v in FAST.items()}, DISCONNECT_GRACE_SECONDS="10")
    webs = [production.web(name="web1"), production.web(name="web2")]
    production.worker()
    sockets = {}
    for sub in range(1, 7):
        url = webs[(sub - 1) // 3][1]
        client = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1)
        client.connect(url, auth={"token": token(sub, exp_in=3600)}, transports=["websocket"], wait_timeout=15)
        Rest(url).set_status(sub, "online")
        sockets[sub] = client
    try:
        for index, (proc, url) in enumerate(webs):
            proc.stop()
            production.web(name=f"web{index + 1}-again", port=int(url.rsplit(":", 1)[1]))
            subs = range(3 * index + 1, 3 * index + 4)
            wait_for(lambda subs=subs: all(sockets[s].connected for s in subs) and database.rows(
                "SELECT count(*) FROM connections WHERE agent_id BETWEEN :a AND :b", a=subs[0], b=subs[-1])[0][0] == 3,
                timeout=20, message=f"agents of web{index + 1} reconnected")
        time.sleep(10 + 2 * BEAT + 1)  # past the grace: anything pending would be announced by now
        reasons = {sub: database.reasons(sub) for sub in sockets}
    finally:
        for client in sockets.values():
            client.disconnect()
    print(f"\nrolling restart: ledger {reasons}")
    assert all(reasons[sub] == ["connected", "manual"] for sub in sockets), reasons
