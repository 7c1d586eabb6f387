"""Whole requests on the hot paths, against the minimal honest heartbeat (b) on the same database.

The project's web process (wsgi.py, embedded mode) and bench/baseline_app.py (Flask on eventlet,
PyJWT decode, one UPDATE, commit) run pinned to core 0, the load (Node, bench/load.mjs and
bench/sockets.mjs) on core 1. For each path: server CPU per request from /proc, over a fixed
number of requests, in interleaved rounds; ratios per round, median [min-max] printed.

Paths: REST heartbeat, set-status, typing renewal (POST /typing/ on the same chat), the roster
of a 1,000-agent org (GET /presence/, also per agent), and over Socket.IO the heartbeat event
and typing_start renewals.

    .venv/bin/python bench/bench_requests.py [--requests 20000] [--rounds 3]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_requests.py

Benchmarks are not tests: figures only, nothing asserted. Needs Node (and tests/js installed).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import jwt
import requests
from sqlalchemy import create_engine, text

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "bench")
PY = os.path.join(ROOT, ".venv", "bin", "python")
SECRET = "bench-secret-that-is-long-enough-for-hs256-signing"
AGENTS, ORG = 1000, "bench"


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database():
    """A fresh database URL (SQLite file, or a new PostgreSQL database) and a function that drops it."""
    base = os.environ.get("DATABASE_URL")
    if not base:
        return f"sqlite:///{tempfile.mkdtemp()}/bench.db", lambda: None
    parts = urlsplit(base.replace("postgres://", "postgresql://", 1))
    admin = create_engine(urlunsplit(parts._replace(scheme="postgresql+psycopg2")), isolation_level="AUTOCOMMIT")
    name = f"presence_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def server_env(url, **extra):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(DATABASE_URL=url, JWT_SECRET_KEY=SECRET, APP_ENV="production", PYTHONUNBUFFERED="1",
               PRESENCE_TIMEOUT_SECONDS="3600", API_RATE_LIMIT="100000 per second",
               SOCKET_RATE_LIMIT="100000 per second", LOG_LEVEL="WARNING", **extra)
    return env


class Server:
    """A server process pinned to core 0, waited for on its health check."""

    def __init__(self, name, argv, port, env):
        self.name, self.url = name, f"http://127.0.0.1:{port}"
        self.log = open(os.path.join(tempfile.gettempdir(), f"bench-{name}-{port}.log"), "w")  # noqa: SIM115
        self.proc = subprocess.Popen(["taskset", "-c", "0", *argv], cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit(f"{name} did not start; see {self.log.name}")
            time.sleep(0.1)

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self.log.close()


def node(script, *args):
    argv = ["taskset", "-c", "1", "node", os.path.join(HERE, script), *map(str, args)]
    return json.loads(subprocess.run(argv, check=True, capture_output=True, text=True, timeout=900).stdout)


def measure(server, run):
    """Server CPU microseconds per request of `run()`, which returns how many requests it made."""
    before = server.cpu_seconds()
    count = run()
    return (server.cpu_seconds() - before) * 1e6 / count


def tokens_file():
    path = os.path.join(tempfile.mkdtemp(), "tokens.txt")
    with open(path, "w") as handle:
        for sub in range(1, AGENTS + 1):
            claims = {"sub": str(sub), "name": f"Agent {sub}", "org": ORG, "exp": int(time.time()) + 86400}
            handle.write(jwt.encode(claims, SECRET, algorithm="HS256") + "\n")
    return path


def paths(project, baseline, tokens, count):
    """name -> (server, run) of every measured path."""
    def rest(server, method, path, body="-", requests_=count, connections=32):
        def run():
            out = node("load.mjs", server.url, method, path, body, tokens, requests_, connections)
            bad = {k: v for k, v in out["statuses"].items() if not k.startswith("2")}
            if bad:
                print(f"  ! {server.name} {method} {path}: {bad}", file=sys.stderr)
            return out["requests"]
        return server, run

    def socket(event, data, events=count // 2):
        def run():
            out = node("sockets.mjs", project.url, tokens, 32, events, event, json.dumps(data))
            return out["events"]
        return project, run

    return {
        "(b) baseline heartbeat": rest(baseline, "POST", "/hb"),
        "REST heartbeat": rest(project, "POST", "/api/v1/presence/heartbeat/"),
        "REST set-status": rest(project, "POST", "/api/v1/presence/set-status/",
                                '{"status": "busy", "message": "bench"}'),
        "REST typing renewal": rest(project, "POST", "/api/v1/typing/", '{"chat_id": "5511999999999"}'),
        "REST roster of 1,000": rest(project, "GET", "/api/v1/presence/", requests_=count // 20, connections=8),
        "socket heartbeat": socket("heartbeat", {}),
        "socket typing_start renewal": socket("typing_start", {"chat_id": "5511999999999"}),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url, drop = database()
    kind = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    env = server_env(url)
    subprocess.run([PY, "-m", "flask", "--app", "presence_app", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    subprocess.run([PY, "-c", SEED], cwd=ROOT, env=env, check=True)
    tokens = tokens_file()
    port, base_port = free_port(), free_port()
    project = Server("project", [PY, "wsgi.py"], port, dict(env, PORT=str(port)))
    baseline = Server("baseline", [PY, os.path.join(HERE, "baseline_app.py"), "--port", str(base_port), "--url",
                                   url], base_port, env)
    try:
        measured = paths(project, baseline, tokens, args.requests)
        for server, run in measured.values():  # warm-up: every token, every path
            measure(server, run)
        rounds = []
        for number in range(args.rounds):
            order = list(measured.items()) if number % 2 == 0 else list(reversed(measured.items()))
            rounds.append({name: measure(server, run) for name, (server, run) in order})
            print(f"round {number + 1}: " + ", ".join(f"{k} {v:.0f}" for k, v in rounds[-1].items()), file=sys.stderr)
    finally:
        project.stop()
        baseline.stop()
        drop()
    report(kind, rounds)


def report(kind, rounds):
    base = "(b) baseline heartbeat"
    print(f"\n{kind}: server CPU per request, median [min-max] of {len(rounds)} interleaved rounds")
    print("| path | CPU µs per request | ratio to (b) |")
    print("|---|---|---|")
    for name in rounds[0]:
        values = [r[name] for r in rounds]
        ratios = [r[name] / r[base] for r in rounds]
        print(f"| {name} | {statistics.median(values):.0f} [{min(values):.0f}-{max(values):.0f}] | "
              f"{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}] |")
    roster = [r["REST roster of 1,000"] / AGENTS for r in rounds]
    print(f"roster: {statistics.median(roster):.1f} µs per agent")


SEED = f"""
import os
from presence_app import create_app
from presence_app.extensions import db
from presence_app.services.identity import Identity, ensure_agent
app = create_app(dict(os.environ, LOG_LEVEL="ERROR"))
with app.app_context():
    for sub in range(1, {AGENTS} + 1):
        ensure_agent(Identity(sub, f"Agent {{sub}}", "{ORG}", "agent"))
"""


if __name__ == "__main__":
    main()
