"""Sockets: memory per idle socket against bare python-socketio, and what Redis adds to delivery.

1. Memory: RSS growth of the web process (embedded mode) divided by the sockets, once 5,000
   official clients sit idle on it, against bench/baseline_sio.py (Flask-SocketIO on eventlet,
   JWT on connect, one room) holding as many; ratio printed.
2. Delivery through Redis: two web processes share one Redis; a client on web1 times a
   set-status made on web1 (one process) and one made on web2 (through Redis); the added p50.

    .venv/bin/python bench/bench_sockets.py [--sockets 5000] [--rounds 200]

Needs Node (tests/js installed) and redis-server. Figures only, nothing asserted.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from bench_requests import HERE, PY, ROOT, Server, database, free_port, server_env, tokens_file


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def idle_sockets(server, tokens, count):
    """RSS growth per socket (KiB) once `count` clients sit idle on `server`."""
    time.sleep(1)
    before = rss_kib(server.proc.pid)
    node = subprocess.Popen(["taskset", "-c", "1", "node", os.path.join(HERE, "idle.mjs"), server.url, tokens,
                             str(count)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            preexec_fn=lambda: __import__("resource").setrlimit(
                                __import__("resource").RLIMIT_NOFILE, (count + 1024, count + 1024)))
    result = json.loads(node.stdout.readline())
    time.sleep(3)  # settle: snapshots sent, connect announcements delivered
    after = rss_kib(server.proc.pid)
    node.stdin.close()
    node.wait(timeout=60)
    if result["connected"] < count:
        print(f"  ! {server.name}: only {result['connected']} of {count} connected", file=sys.stderr)
    return (after - before) / max(1, result["connected"])


def memory(url, env, tokens, count):
    port, base_port = free_port(), free_port()
    limits = {"MAX_CONNECTIONS": str(count + 500), "MAX_SOCKETS_PER_AGENT": str(count)}
    project = Server("project", [PY, "wsgi.py"], port, dict(env, PORT=str(port), **limits))
    try:
        mine = idle_sockets(project, tokens, count)
    finally:
        project.stop()
    bare = Server("bare", [PY, os.path.join(HERE, "baseline_sio.py"), "--port", str(base_port)], base_port, env)
    try:
        theirs = idle_sockets(bare, tokens, count)
    finally:
        bare.stop()
    print(f"memory per idle socket at {count}: project {mine:.1f} KiB, bare python-socketio {theirs:.1f} KiB, "
          f"ratio {mine / theirs:.2f}")


def through_redis(env, tokens, rounds):
    directory = tempfile.mkdtemp()
    redis_port = free_port()
    redis = subprocess.Popen([shutil.which("redis-server"), "--port", str(redis_port), "--save", "", "--appendonly",
                              "no", "--dir", directory], stdout=subprocess.DEVNULL)
    time.sleep(0.5)
    queue = dict(env, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0")
    ports = free_port(), free_port()
    webs = [Server(f"web{i + 1}", [PY, "wsgi.py"], port, dict(queue, PORT=str(port))) for i, port in enumerate(ports)]
    with open(tokens) as handle:
        listener, trigger = handle.read().split()[:2]
    try:
        def timed(trigger_url):
            out = subprocess.run(["taskset", "-c", "1", "node", os.path.join(HERE, "latency.mjs"), webs[0].url,
                                  trigger_url, listener, trigger, str(rounds)], capture_output=True, text=True,
                                 check=True, timeout=600)
            return json.loads(out.stdout)
        local, remote = timed(webs[0].url), timed(webs[1].url)
    finally:
        for web in webs:
            web.stop()
        redis.kill()
    print(f"delivery p50: one process {local['p50_ms']:.2f} ms, through Redis {remote['p50_ms']:.2f} ms, "
          f"added {remote['p50_ms'] - local['p50_ms']:.2f} ms (p90 {local['p90_ms']:.2f} -> {remote['p90_ms']:.2f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    url, drop = database()
    env = server_env(url)
    try:
        subprocess.run([PY, "-m", "flask", "--app", "presence_app", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True)
        tokens = tokens_file()
        memory(url, env, tokens, args.sockets)
        through_redis(env, tokens, args.rounds)
    finally:
        drop()


if __name__ == "__main__":
    main()
