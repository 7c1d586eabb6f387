"""Routing on PostgreSQL: concurrent assigns never pass capacity, their CPU against a REST set-status, and the
candidates of a 10,000-agent org.

1. Assigns: PROCESSES web processes in production mode (Redis), pinned to core 0; as many client
   processes (core 1), each firing its share of ASSIGNS at once (one thread and connection per
   request) at its own web process, over AGENTS agents of capacity CAPACITY. Checked in the
   database after each burst: exactly AGENTS x CAPACITY placed, none past capacity, each agent's
   open_chats equal to its assignments. Web CPU per request from /proc (all web processes), for the
   assigns and for as many REST set-status fired the same way (each a real change, announced), in
   interleaved rounds.
2. Candidates: 10,000 available agents of one org (loads and last assignments spread, 20 teams),
   GET /routing/candidates/ one after another, keep-alive: whole-request latency percentiles; and
   the plan of the service's own query (EXPLAIN ANALYZE).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_routing.py
        [--assigns 1000] [--processes 4] [--agents 100] [--capacity 3] [--rounds 3] [--candidates 2000]

Benchmarks are not tests: figures only, nothing asserted.
"""
import argparse
import http.client
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import jwt
import psycopg2
import requests
from bench_requests import PY, ROOT, SECRET, Server, database, free_port, server_env

sys.path.insert(0, ROOT)
from tests.support import start_redis  # noqa: E402

ORG, BIG = "bench", "big"
BIG_AGENTS, BIG_FIRST, TEAMS = 10_000, 100_000, 20
WARM_UP = 50


def token(sub, **claims):
    claims = {"sub": str(sub), "name": f"Agent {sub}", "exp": int(time.time()) + 86400, **claims}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _fire(url, path, bodies, tokens, at):
    """POST every body at once from `at` (one thread and connection each); return the statuses."""
    host, port = url.removeprefix("http://").split(":")
    statuses, lock = [], threading.Lock()

    def one(body, bearer):
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        conn.connect()
        time.sleep(max(0.0, at - time.time()))
        conn.request("POST", path, json.dumps(body), {"Authorization": f"Bearer {bearer}",
                                                      "Content-Type": "application/json"})
        status = conn.getresponse().status
        conn.close()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one, args=pair) for pair in zip(bodies, tokens, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def burst(servers, path, bodies, tokens):
    """Fire every body at once, client process n at web process n; return (statuses, web CPU µs per request)."""
    count = len(servers)
    at = time.time() + 2  # every connection is open before the first request goes
    shares = [(servers[n].url, path, bodies[n::count], tokens[n::count], at) for n in range(count)]
    context = multiprocessing.get_context("fork")
    with context.Pool(count, initializer=os.sched_setaffinity, initargs=(0, {1})) as pool:
        before = sum(server.cpu_seconds() for server in servers)
        statuses = [status for part in pool.starmap(_fire, shares) for status in part]
        used = sum(server.cpu_seconds() for server in servers) - before
    return {s: statuses.count(s) for s in sorted(set(statuses))}, used * 1e6 / len(bodies)


def seed(cur, args):
    """The bench org's agents, and the big org's 10,000 with loads, last assignments and teams spread."""
    for org, count, first in ((ORG, args.agents, 1), (BIG, BIG_AGENTS, BIG_FIRST)):
        cur.execute("INSERT INTO agents (id, org, name, role, created_at) SELECT g, %s, 'Agent ' || g, 'agent', "
                    "now() FROM generate_series(%s, %s) g", (org, first, first + count - 1))
        cur.execute("INSERT INTO presence (agent_id, org, name, status, status_message, previous_status, "
                    "status_changed_at, last_seen, connections, websocket_connected, timed_out, change_reason, "
                    "changed_at, seq, spare) SELECT g, %s, 'Agent ' || g, 'online', '', 'offline', now(), now(), 1, "
                    "true, false, 'manual', now(), 0, %s FROM generate_series(%s, %s) g",
                    (org, args.capacity, first, first + count - 1))
    cur.execute("UPDATE presence SET open_chats = agent_id %% 4, capacity = 3 + agent_id %% 3, "
                "spare = 3 + agent_id %% 3 - agent_id %% 4, last_assigned_at = CASE WHEN agent_id %% 5 = 0 THEN NULL "
                "ELSE now() - make_interval(secs => agent_id %% 7200) END WHERE org = %s", (BIG,))
    # Teams of 500, their members' loads spread like the org's (agent_id / 7 and agent_id % 4 are unrelated).
    cur.execute("INSERT INTO agent_teams (org, team, agent_id) SELECT %s, 'team-' || (agent_id / 7 %% %s), agent_id "
                "FROM presence WHERE org = %s", (BIG, TEAMS, BIG))
    cur.execute("ANALYZE")


def placed(cur, args):
    """What the last burst of assigns left in the database."""
    cur.execute("SELECT count(*) FROM chat_assignments WHERE released_at IS NULL")
    total = cur.fetchone()[0]
    cur.execute("SELECT min(open_chats), max(open_chats), count(*) FILTER (WHERE open_chats > %s), "
                "count(*) FILTER (WHERE open_chats <> (SELECT count(*) FROM chat_assignments a WHERE "
                "a.agent_id = p.agent_id AND a.released_at IS NULL)) FROM presence p WHERE org = %s",
                (args.capacity, ORG))
    return (total, *cur.fetchone())


def assigns(servers, cur, args, number):
    cur.execute("DELETE FROM chat_assignments")
    cur.execute("UPDATE presence SET open_chats = 0, spare = %s, last_assigned_at = NULL WHERE org = %s",
                (args.capacity, ORG))
    bodies = [{"chat_id": f"r{number}-chat-{n}"} for n in range(args.assigns)]
    statuses, cost = burst(servers, "/api/v1/routing/assign/", bodies, [token("backend", role="service", org=ORG)]
                           * len(bodies))
    total, least, most, past, unlike = placed(cur, args)
    print(f"  {args.assigns} assigns: {statuses}; placed {total} of {args.agents * args.capacity}; open_chats "
          f"{least}-{most} per agent, {past} past capacity, {unlike} unlike its assignments", file=sys.stderr)
    return cost


def statuses_set(servers, args, number):
    # Each a real change (a new message), every agent staying online: still a candidate for the assigns.
    bodies = [{"status": "online", "message": f"round {number} #{n}"} for n in range(args.assigns)]
    tokens = [token(n % args.agents + 1, org=ORG) for n in range(args.assigns)]
    statuses, cost = burst(servers, "/api/v1/presence/set-status/", bodies, tokens)
    print(f"  {args.assigns} set-status: {statuses}", file=sys.stderr)
    return cost


def report_assigns(servers, cur, args):
    statuses_set(servers, args, 0)  # warm-up: tokens known, pools filled, statements prepared
    assigns(servers, cur, args, 0)
    rounds = []
    for number in range(1, args.rounds + 1):
        print(f"round {number}", file=sys.stderr)
        if number % 2:
            rounds.append((assigns(servers, cur, args, number), statuses_set(servers, args, number)))
        else:
            status = statuses_set(servers, args, number)
            rounds.append((assigns(servers, cur, args, number), status))
    print(f"\n{args.assigns} concurrent requests from {len(servers)} client processes to {len(servers)} web processes "
          f"(production mode), {args.agents} agents of capacity {args.capacity}: web CPU per request, median "
          f"[min-max] of {len(rounds)} rounds\n| request | CPU µs |\n|---|---|")
    for name, values in (("assign", [a for a, _ in rounds]), ("set-status", [s for _, s in rounds]),
                         ("ratio assign / set-status", [a / s for a, s in rounds])):
        fmt = ".2f" if name.startswith("ratio") else ".0f"
        print(f"| {name} | {statistics.median(values):{fmt}} [{min(values):{fmt}}-{max(values):{fmt}}] |")


def latencies(server, count, query):
    session, samples = requests.Session(), []
    headers = {"Authorization": f"Bearer {token('backend', role='service', org=BIG)}"}
    for n in range(count + WARM_UP):
        started = time.perf_counter()
        answer = session.get(f"{server.url}/api/v1/routing/candidates/", params=query, headers=headers, timeout=10)
        if n >= WARM_UP:
            samples.append(time.perf_counter() - started)
        assert answer.status_code == 200 and len(answer.json()["agents"]) == query["limit"], answer.text
    ordered = sorted(samples)
    at = {q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 for q in (0.5, 0.95, 0.99)}
    return f"p50 {at[0.5]:.1f} ms, p95 {at[0.95]:.1f} ms, p99 {at[0.99]:.1f} ms, max {ordered[-1] * 1000:.1f} ms"


PLAN = """
import json, sys
from presence_app import create_app
from presence_app.services import routing
from sqlalchemy.dialects import postgresql
with create_app().app_context():
    compiled = routing.candidates_query(sys.argv[1] == "team")().compile(dialect=postgresql.dialect())
    print(json.dumps({"sql": str(compiled), "params": {k: v for k, v in compiled.params.items() if v is not None}}))
"""


def plan(env, cur, team):
    """EXPLAIN ANALYZE of the service's own candidates query."""
    built = json.loads(subprocess.run([PY, "-c", PLAN, "team" if team else "org"], cwd=ROOT, env=env, check=True,
                                      capture_output=True, text=True).stdout)
    cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + built["sql"],
                dict(built["params"], b_org=BIG, b_team=team, b_limit=20))
    return "\n".join(row[0] for row in cur.fetchall())


def report_candidates(server, env, cur, args):
    print(f"\nGET /routing/candidates/ over {BIG_AGENTS:,} available agents of one org, {args.candidates} requests "
          "one after another (whole request, keep-alive)\n| query | latency |\n|---|---|")
    for query in ({"limit": 20}, {"limit": 100}, {"limit": 20, "team": "team-7"}):
        print(f"| {query} | {latencies(server, args.candidates, query)} |")
    for team in (None, "team-7"):
        print(f"\nEXPLAIN (ANALYZE, BUFFERS), team {team}:\n{plan(env, cur, team)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in (("assigns", 1000), ("processes", 4), ("agents", 100), ("capacity", 3), ("rounds", 3),
                          ("candidates", 2000)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    if not (os.environ.get("DATABASE_URL") or "").startswith(("postgres://", "postgresql")):
        raise SystemExit("bench_routing measures PostgreSQL: set DATABASE_URL")
    url, drop = database()
    redis, redis_url = start_redis(tempfile.mkdtemp())
    env = server_env(url, REDIS_URL=redis_url, SERVICE_RATE_LIMIT="100000 per second",
                     DEFAULT_CAPACITY=str(args.capacity))
    subprocess.run([PY, "-m", "flask", "--app", "presence_app", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    conn = psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"))
    conn.autocommit = True
    servers = []
    try:
        with conn.cursor() as cur:
            seed(cur, args)
            for n in range(args.processes):
                port = free_port()
                servers.append(Server(f"web{n + 1}", [PY, "wsgi.py"], port, dict(env, PORT=str(port))))
            if args.rounds:
                report_assigns(servers, cur, args)
            report_candidates(servers[0], env, cur, args)
    finally:
        for server in servers:
            server.stop()
        conn.close()
        redis.kill()
        drop()


if __name__ == "__main__":
    main()
