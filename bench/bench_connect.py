"""Server CPU per connect in a large org's herd, against bare python-socketio and a minimal honest connect.

N agents in teams of --team-size connect at once to one web process (embedded mode; each console
in diff mode, subscribed to its team, with counts: bench/connect_herd.mjs). The baselines are
bench/baseline_sio.py: Flask-SocketIO on eventlet that verifies the token (PyJWT, HS256) and
joins a room on connect, nothing else (bare); and the same with --honest: one SQLite transaction
per connect (the agent's row on first sight, its socket row, its presence counted), its team's
roster read and sent, its connect announced to its team (honest). Server CPU (from /proc) from
the first connect until every socket is connected and has its roster, divided by N; rounds
interleaved, fresh servers and a fresh database each round, first connects of new agents
(provisioning included) and, with --known, of agents the database holds already.

    .venv/bin/python bench/bench_connect.py [--agents 1000] [--team-size 50] [--rounds 3] [--known]
    .venv/bin/python bench/bench_connect.py --tally [--agents 3000]   # frames the herd gets, by event

Benchmarks are not tests: figures only, nothing asserted. Needs Node (and tests/js installed).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import jwt
from bench_requests import HERE, PY, ROOT, SECRET, Server, database, free_port, node, server_env

ORG = "bench"


def tokens(count, team_size):
    path = os.path.join(tempfile.mkdtemp(), "tokens.txt")
    with open(path, "w") as handle:
        for n in range(count):
            claims = {"sub": str(700001 + n), "name": f"Agent {n}", "org": ORG, "exp": int(time.time()) + 86400,
                      "teams": [f"team-{n // team_size}"]}
            handle.write(jwt.encode(claims, SECRET, algorithm="HS256") + "\n")
    return path


def herd(server, path, mode, count):
    before = server.cpu_seconds()
    result = node("connect_herd.mjs", server.url, path, mode)
    spent = server.cpu_seconds() - before
    if result["refused"] or result["sockets"] != count:
        print(f"  ! {server.name}: {result}", file=sys.stderr)
    return spent * 1000 / count, result["seconds"]


def project_round(path, count, known):
    url, drop = database()
    env = server_env(url, MAX_CONNECTIONS=str(count + 500))
    subprocess.run([PY, "-m", "flask", "--app", "presence_app", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    port = free_port()
    server = Server("project", [PY, "wsgi.py"], port, dict(env, PORT=str(port)))
    try:
        if known:  # a first herd provisions the agents; the measured one finds them known
            herd(server, path, "teams", count)
            time.sleep(3)
        return herd(server, path, "teams", count)
    finally:
        server.stop()
        drop()


def tally(path, count):
    url, drop = database()
    env = server_env(url, MAX_CONNECTIONS=str(count + 500))
    subprocess.run([PY, "-m", "flask", "--app", "presence_app", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    port = free_port()
    server = Server("project", [PY, "wsgi.py"], port, dict(env, PORT=str(port)))
    try:
        return node("tally_herd.mjs", server.url, path)
    finally:
        server.stop()
        drop()


def baseline_round(path, count, honest):
    port = free_port()
    argv = [PY, os.path.join(HERE, "baseline_sio.py"), "--port", str(port)]
    if honest:
        argv += ["--honest", os.path.join(tempfile.mkdtemp(), "honest.db")]
    server = Server("honest" if honest else "bare", argv, port, dict(os.environ, JWT_SECRET_KEY=SECRET))
    try:
        return herd(server, path, "teams" if honest else "plain", count)
    finally:
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--team-size", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--known", action="store_true", help="measure a second herd of agents already provisioned")
    parser.add_argument("--tally", action="store_true", help="count the frames one herd receives, by event")
    args = parser.parse_args()
    path = tokens(args.agents, args.team_size)
    if args.tally:
        print(tally(path, args.agents))
        return
    found = {"project": [], "honest": [], "bare": []}
    for round_ in range(args.rounds):
        order = list(found) if round_ % 2 == 0 else list(reversed(found))
        spent = {name: (project_round(path, args.agents, args.known) if name == "project"
                        else baseline_round(path, args.agents, honest=name == "honest")) for name in order}
        for name in found:
            found[name].append(spent[name][0])
        print(f"round {round_ + 1}: " + ", ".join(f"{name} {spent[name][0]:.2f} ms CPU/connect (herd "
                                                  f"{spent[name][1]:.1f} s)" for name in found), flush=True)
    median = {name: statistics.median(values) for name, values in found.items()}
    ratios = {base: sorted(p / b for p, b in zip(found["project"], found[base], strict=True))
              for base in ("honest", "bare")}
    print(f"\nN={args.agents}, teams of {args.team_size}, {'known' if args.known else 'new'} agents, "
          f"{os.environ.get('DATABASE_URL') and 'PostgreSQL' or 'SQLite'}: "
          + ", ".join(f"{name} {value:.2f} ms" for name, value in median.items()) + " per connect; "
          + "; ".join(f"project/{base} {statistics.median(r):.2f} [{r[0]:.2f}-{r[-1]:.2f}]"
                      for base, r in ratios.items()))

if __name__ == "__main__":
    main()
