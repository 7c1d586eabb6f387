"""The whole topology behind a real HAProxy (deploy/haproxy.cfg): kills, rolling restarts, draining."""
import os
import re
import shutil
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import socketio

from deploy.cluster import haproxy_states, render_haproxy

from .clients import Rest
from .support import BEAT, FAST, SECRET, Proc, bearer, free_port, service_env, token, wait_for
from .test_dev_prod import children_of, gone

pytestmark = pytest.mark.processes


def test_a_stopping_web_process_answers_503_on_health_while_it_drains_then_exits(production):
    drain = 2
    proc, url = production.web(name="draining", DRAIN_SECONDS=drain, **FAST)
    rest = Rest(url)
    proc.popen.send_signal(signal.SIGTERM)
    started = time.monotonic()
    answers = []
    wait_for(lambda: answers.append(requests.get(f"{url}/health", timeout=2)) or answers[-1].status_code == 503,
             timeout=drain, interval=0.02, message="/health answering 503")
    answered = time.monotonic() - started
    assert answers[-1].json()["status"] == "draining"
    assert rest.set_status(1, "online")["status"] == "online", "requests are still served while draining"
    proc.popen.wait(timeout=drain + 10)
    stopped = time.monotonic() - started
    print(f"\nSIGTERM: /health 503 after {answered:.3f}s, exited after {stopped:.2f}s")
    assert proc.popen.returncode == 0 and drain <= stopped <= drain + 5
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/health", timeout=2)


# the whole topology behind HAProxy

WEBSOCKETS, POLLING = 100, 20
GRACE = 10  # DISCONNECT_GRACE_SECONDS: longer than any reconnect through the balancer
REST_AGENT = 500


def _why_no_haproxy():
    if not shutil.which("haproxy") and not os.access("/usr/sbin/haproxy", os.X_OK):
        return "HAProxy is not installed (Debian: apt-get install haproxy; CI runs .ci/install-haproxy)"
    return None


class Agent:
    """One agent's console through the balancer: a reconnecting python-socketio client, its events timed."""

    def __init__(self, url, sub, transport):
        self.sub, self.transport = sub, transport
        self.connects, self.disconnects, self.states = [], [], []
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1,
                                   randomization_factor=0.5)
        self.sio.on("connect", lambda: self.connects.append(time.monotonic()))
        self.sio.on("disconnect", lambda *_: self.disconnects.append(time.monotonic()))
        self.sio.on("presence_state", lambda payload: self.states.append((time.monotonic(), payload["data"])))
        self.sio.connect(url, auth={"token": token(sub, exp_in=3600)}, transports=[transport], wait_timeout=20)
        wait_for(lambda: self.states, timeout=20, message=f"presence_state of agent {sub}")
        ack = self.sio.call("set_status", {"status": "online", "message": ""}, timeout=20)
        assert ack["ok"], ack

    def state_after(self, moment):
        """The first roster received after `moment`: (arrival, data), or None."""
        return next(((at, data) for at, data in list(self.states) if at > moment), None)


class RestLoop(threading.Thread):
    """An agent's REST calls through the balancer, back to back, every failure kept with its time."""

    def __init__(self, url):
        super().__init__(daemon=True)
        self.url, self.stop, self.calls, self.failures = url, threading.Event(), [], []

    def run(self):
        http = requests.Session()
        while not self.stop.is_set():
            method, path = (("POST", "/presence/heartbeat/"), ("GET", "/presence/me/"))[len(self.calls) % 2]
            at = time.monotonic()
            try:
                answer = http.request(method, f"{self.url}/api/v1{path}", headers=bearer(REST_AGENT, exp_in=3600),
                                      timeout=10)
                failed = None if answer.status_code == 200 else f"{answer.status_code} {answer.text[:200]}"
            except requests.RequestException as exc:
                failed = repr(exc)
            self.calls.append(at)
            if failed:
                self.failures.append((at, method, path, failed))
            time.sleep(0.05)  # ~15 calls a second: under API_RATE_LIMIT

    def between(self, start, end):
        return (sum(start <= at <= end for at in self.calls),
                [failure for failure in self.failures if start <= failure[0] <= end])


class Balanced:
    """Three web processes and two workers behind HAProxy, from deploy/haproxy.cfg."""

    def __init__(self, production, tmp_path):
        self.production, self.tmp_path = production, tmp_path
        self.ports = [free_port() for _ in range(3)]
        self.webs = [production.web(name=f"web{n}", port=port)[0] for n, port in enumerate(self.ports, 1)]
        production.worker(name="worker1")
        production.worker(name="worker2")
        self.port, self.stats = free_port(), str(tmp_path / "haproxy.sock")
        config = tmp_path / "haproxy.cfg"
        config.write_text(render_haproxy(self.port, self.ports, self.stats))
        self.haproxy = Proc([shutil.which("haproxy") or "/usr/sbin/haproxy", "-db", "-f", str(config)],
                            dict(os.environ), str(tmp_path / "haproxy.log"))
        production.procs.append(self.haproxy)
        self.url = f"http://127.0.0.1:{self.port}"
        self.wait_states(("UP",) * 3)

    def states(self):
        return tuple(haproxy_states(self.stats)[f"web{n}"] for n in range(1, 4))

    def wait_states(self, wanted, timeout=20):
        def reached():
            try:
                return self.states() == tuple(wanted)
            except OSError:
                return False
        wait_for(reached, timeout=timeout, interval=0.1, message=f"HAProxy seeing {wanted}")

    def restart(self, index):
        """Start web `index` again on its port; wait until HAProxy routes to it."""
        self.webs[index] = self.production.web(name=f"web{index + 1}-again", port=self.ports[index])[0]
        self.wait_states(("UP",) * 3)


def _p99(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else float("nan")


def _on(database, proc):
    """Agents with a socket on web process `proc` (by its pid in the process id)."""
    return {row[0] for row in database.rows("SELECT agent_id FROM connections WHERE process_id LIKE :p",
                                            p=f"%:{proc.pid}:%")}


def _after(database, baseline):
    """Ledger rows (agent, to_status, reason) written after `baseline` ({agent: last seq})."""
    rows = database.rows("SELECT agent_id, seq, to_status, reason FROM presence_changes ORDER BY agent_id, seq")
    return [(agent, to, reason) for agent, seq, to, reason in rows if seq > baseline.get(agent, 0)]


@pytest.mark.skipif(_why_no_haproxy() is not None, reason=str(_why_no_haproxy()))
def test_behind_haproxy_a_killed_and_a_rolling_restarted_web_process_lose_no_agent_and_no_request(
        production, database, tmp_path):
    production.env.update({k: str(v) for k, v in FAST.items()}, DISCONNECT_GRACE_SECONDS=str(GRACE),
                          TRUSTED_PROXY_COUNT="1", LOG_LEVEL="WARNING")
    cluster = Balanced(production, tmp_path)
    subs = [(sub, "websocket") for sub in range(1, WEBSOCKETS + 1)]
    subs += [(sub, "polling") for sub in range(WEBSOCKETS + 1, WEBSOCKETS + POLLING + 1)]
    with ThreadPoolExecutor(8) as pool:
        agents = {agent.sub: agent for agent in pool.map(lambda s: Agent(cluster.url, *s), subs)}
    rest = RestLoop(cluster.url)
    try:
        rest.start()
        wait_for(lambda: len(rest.calls) > 5, timeout=10, message="the REST loop running")
        assert not rest.failures, rest.failures
        placed = [_on(database, web) for web in cluster.webs]
        assert sum(map(len, placed)) == len(agents) and all(placed), f"leastconn spreads the sockets: {placed}"
        baseline = dict(database.rows("SELECT agent_id, max(seq) FROM presence_changes GROUP BY agent_id"))

        # SIGKILL: the dead process's clients come back through the balancer and resync.
        victim, moved = 0, placed[0]
        killed = time.monotonic()
        cluster.webs[victim].kill()
        wait_for(lambda: all(agents[sub].state_after(killed) for sub in moved), timeout=30,
                 message="every client of the killed process resynced")
        reconnects = [agents[sub].state_after(killed)[0] - killed for sub in moved]
        for sub in moved:
            roster = agents[sub].state_after(killed)[1]["agents"]
            assert {a["agent_id"] for a in roster if a["status"] == "online"} >= set(agents), "a resync is whole"
        killed_calls, killed_failures = rest.between(killed, time.monotonic())
        assert not _on(database, cluster.webs[victim]) or wait_for(
            lambda: not _on(database, cluster.webs[victim]), timeout=10, message="the dead process reaped")
        cluster.restart(victim)

        # A rolling restart: SIGTERM (drain), start again, wait until HAProxy routes to it, the next.
        rolling = time.monotonic()
        for index in range(3):
            cluster.webs[index].stop()
            cluster.restart(index)
        wait_for(lambda: all(agent.sio.connected for agent in agents.values()), timeout=20,
                 message="every client connected after the rolling restart")
        rolled = time.monotonic()
        rolling_calls, rolling_failures = rest.between(rolling, rolled)
        time.sleep(GRACE + 3 * BEAT)  # past the grace and the reaper: anything pending is announced by now
        changes = _after(database, baseline)
    finally:
        rest.stop.set()
        rest.join(timeout=15)
        for agent in agents.values():
            agent.sio.disconnect()

    offline = [change for change in changes if change[1] == "offline"]
    per_agent = {sub: [reason for agent, _, reason in changes if agent == sub] for sub in agents}
    print(f"\nHAProxy, {WEBSOCKETS} websocket + {POLLING} polling clients: SIGKILL of web1 ({len(moved)} clients): "
          f"reconnected and resynced p50 {sorted(reconnects)[len(reconnects) // 2]:.2f}s, p99 {_p99(reconnects):.2f}s, "
          f"max {max(reconnects):.2f}s; REST {len(killed_failures)} failed of {killed_calls}\n"
          f"rolling restart of 3 ({rolled - rolling:.1f}s): REST {len(rolling_failures)} failed of {rolling_calls}; "
          f"ledger after the baseline: {len(changes)} rows, offline {len(offline)}")
    assert offline == [], offline
    assert not rolling_failures, rolling_failures
    assert all(sorted(reasons) in ([], ["connected", "disconnected"]) for reasons in per_agent.values()), {
        sub: reasons for sub, reasons in per_agent.items() if reasons}


@pytest.mark.skipif(_why_no_haproxy() is not None, reason=str(_why_no_haproxy()))
def test_dev_py_cluster_serves_through_its_balancer_and_stops_everything_on_sigterm(clients, tmp_path):
    env = service_env({}, JWT_SECRET_KEY=SECRET, APP_ENV="production", DATABASE_URL=None, REDIS_URL=None,
                      METRICS_TOKEN=None, LOG_LEVEL="WARNING", DRAIN_SECONDS=1)
    cluster = Proc([sys.executable, "dev.py", "cluster"], env, str(tmp_path / "cluster.log"))
    kids = []
    try:
        line = wait_for(lambda: re.search(r"^presence_app cluster at (http://127\.0\.0\.1:\d+)$", cluster.log(), re.M)
                        or (not cluster.alive() and pytest.fail(cluster.log())), timeout=120, message="its address")
        url = line[1]
        kids = children_of(cluster.pid)
        assert len(kids) == 2 + 3 + 2, cluster.log()  # Redis, HAProxy; webs; workers (PostgreSQL runs detached)
        folder = re.search(r"files in (\S+)", cluster.log())[1]
        assert requests.get(f"{url}/health", timeout=5).json() == {
            "status": "ok", "database": "ok", "redis": "ok", "mode": "production"}
        watcher = clients.console(url, 2).connect()
        Rest(url).set_status(1, "busy", "through the balancer")
        watcher.wait("agent_presence_changed", agent_id=1, status="busy")
        watcher.close()

        cluster.popen.send_signal(signal.SIGTERM)
        assert cluster.popen.wait(timeout=30) == 0, cluster.log()
        assert all(gone(pid) for pid in kids) and not os.path.exists(folder), cluster.log()
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/health", timeout=2)
    finally:
        cluster.kill()
        for pid in kids:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)
