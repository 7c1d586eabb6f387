"""Redis pub/sub fan-in: what every web process pays for every change of every org (PostgreSQL or SQLite).

Every change is published once on the Socket.IO channel and every web process receives it, even
when none of its sockets hears that org. This bench starts a throwaway redis-server and WEBS idle
web processes (no socket in the org that changes), makes CHANGES real status changes (the service
layer, committing and emitting as a worker does), and reads from /proc the CPU each web process
and Redis spent: per change received by a process with no listener, and per change in Redis for
WEBS subscribers. Then the same with LISTENERS sockets of that org on the first process, for the
cost of a change that is delivered. Prints figures; scale.md turns them into sizes.
Run: flock /work/.heavy.lock .venv/bin/python bench/bench_fanin.py   (DATABASE_URL optional)
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import requests
from common import SECRET, bench_app, seed

from presence_app.extensions import db
from presence_app.services import presence
from presence_app.services.identity import Identity

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEBS, LISTENERS, AGENTS = 4, 10, 500
CHANGES = int(os.environ.get("BENCH_CHANGES", 20_000))
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu(pid):
    """Seconds of CPU (user + system) process `pid` has used."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def settled(pids, quiet=1.0):
    """Wait until none of `pids` uses CPU for `quiet` seconds; return their CPU seconds."""
    last = [cpu(pid) for pid in pids]
    while True:
        time.sleep(quiet)
        now = [cpu(pid) for pid in pids]
        if all(b - a < 0.02 for a, b in zip(last, now, strict=True)):
            return now
        last = now


def start(argv, env, log):
    return subprocess.Popen(argv, env=env, cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT)  # noqa: SIM115


def changes(count, org="acme"):
    """`count` real status changes of agents of `org`, each committed and published once."""
    statuses = ("busy", "online")
    for n in range(count):
        agent = 1 + n % AGENTS
        presence.set_status(Identity(agent, f"Agent {agent}", org, "agent"), statuses[(n // AGENTS) % 2])


def main():
    folder = tempfile.mkdtemp(prefix="bench-fanin-")
    redis_port = free_port()
    redis = start([shutil.which("redis-server"), "--port", str(redis_port), "--save", "", "--appendonly", "no"],
                  dict(os.environ), os.path.join(folder, "redis.log"))
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    webs, sockets = [], []
    try:
        with bench_app(REDIS_URL=redis_url) as app:
            seed(AGENTS, org="acme", status="online")
            env = dict(os.environ, APP_ENV="testing", JWT_SECRET_KEY=SECRET, REDIS_URL=redis_url, LOG_LEVEL="WARNING",
                       DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"].replace("+psycopg2", ""),
                       HOST="127.0.0.1", PYTHONUNBUFFERED="1")
            ports = [free_port() for _ in range(WEBS)]
            webs = [start([sys.executable, "wsgi.py"], dict(env, PORT=str(port)),
                          os.path.join(folder, f"web{port}.log")) for port in ports]
            for port in ports:
                while True:
                    try:
                        if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                            break
                    except requests.RequestException:
                        pass
                    time.sleep(0.2)
            pids = [redis.pid] + [web.pid for web in webs]
            print(f"{WEBS} idle web processes subscribed, Redis on :{redis_port}, database {db.engine.dialect.name}")
            _round(pids, "no socket of the org anywhere", lambda: changes(CHANGES))
            sockets = _listeners(f"http://127.0.0.1:{ports[0]}")
            _round(pids, f"{LISTENERS} sockets of the org on web 1", lambda: changes(CHANGES))
    finally:
        for client in sockets:
            client.disconnect()
        for proc in [*webs, redis]:
            proc.terminate()
            proc.wait(timeout=20)
        shutil.rmtree(folder, ignore_errors=True)


def _round(pids, label, make):
    before = settled(pids)
    began = time.perf_counter()
    make()
    published = time.perf_counter() - began
    after = settled(pids)
    spent = [b - a for a, b in zip(before, after, strict=True)]
    print(f"{label}: {CHANGES:,} changes published in {published:.1f} s ({CHANGES / published:,.0f}/s from one "
          "publisher)")
    print(f"  Redis CPU per change ({WEBS} subscribers): {spent[0] / CHANGES * 1e6:6.1f} µs")
    for n, seconds in enumerate(spent[1:], 1):
        print(f"  web {n} CPU per change received: {seconds / CHANGES * 1e6:6.1f} µs")


def _listeners(url):
    import socketio

    from tests.support import token

    clients = []
    for sub in range(AGENTS + 1, AGENTS + LISTENERS + 1):
        client = socketio.Client(reconnection=False)
        client.connect(url, auth={"token": token(sub, org="acme", secret=SECRET)}, transports=["websocket"],
                       wait_timeout=20)
        clients.append(client)
    return clients


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    main()
