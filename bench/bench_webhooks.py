"""Webhooks: the CPU a status change adds with an endpoint, events per second delivered, and an outage of the receiver.

One web process and one worker in production mode (Redis; pinned to core 0), a real HTTPS receiver
in this process (a trustme certificate; the bench's clients and receiver on core 1). The settings are
production's but for WEBHOOK_ALLOW_PRIVATE and WEBHOOK_CA_FILE (a receiver on this machine), so
APP_ENV is testing.

1. Added CPU (cpu): REST set-status (each a real change) from THREADS keep-alive clients, in
   interleaved rounds, for agents of an org with one endpoint and of an org with none: web CPU per
   request (from /proc), and the worker's CPU per event delivered.
   In process (inprocess): the same requests through the Flask test client in this process, process
   CPU per request, with the outbox switched off, for an org with no endpoint and with one: the
   least noisy figure of what the outbox adds.
2. Throughput (burst): a burst of BURST status changes across AGENTS agents of the org with the
   endpoint: messages received, events after de-duplication by event id, events per second from the
   first request to the last event received, and latency from each change's answer (its commit came
   before) to its receipt: p50, p99, max.
   Drain (drain): BURST changes made with the worker stopped, then a new worker: how fast delivery
   alone empties the outbox.
3. Outage (outage): the receiver stops listening for DOWN seconds while changes go on, then listens
   again: every event arrives, none twice under another message id (with the contract's retries the
   message that failed goes again 5 s and then 5 min after its first attempt).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_webhooks.py
        [--agents 1000] [--burst 5000] [--rounds 3] [--per-round 2000] [--down 30]
        [--parts cpu,inprocess,burst,drain,outage]

Benchmarks are not tests: figures only, nothing asserted.
"""
import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import jwt
from bench_requests import PY, ROOT, SECRET, Server, database, free_port, server_env

sys.path.insert(0, ROOT)
from tests.receiver import Receiver  # noqa: E402
from tests.support import start_redis  # noqa: E402

HOOKED, PLAIN = "hooked", "plain"
THREADS = 8


class Worker(Server):
    """The worker process, pinned to core 0 (it answers no health check)."""

    def __init__(self, env):
        self.name, self.env = "worker", env
        self.log = open(os.path.join(tempfile.gettempdir(), f"bench-worker-{os.getpid()}.log"), "w")  # noqa: SIM115
        self.proc = subprocess.Popen(["taskset", "-c", "0", PY, "worker.py"], cwd=ROOT, env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)


def token(sub, **claims):
    claims = {"sub": str(sub), "name": f"Agent {sub}", "exp": int(time.time()) + 86400, **claims}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def fire(url, requests_):
    """POST every (path, body, token) from THREADS keep-alive connections; return {(agent, seq): answered at}."""
    host, port = url.removeprefix("http://").split(":")
    answered, lock, queue = {}, threading.Lock(), list(requests_)

    def work():
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                path, body, bearer = queue.pop()
            conn.request("POST", path, json.dumps(body), {"Authorization": f"Bearer {bearer}",
                                                         "Content-Type": "application/json"})
            answer = json.loads(conn.getresponse().read())
            with lock:
                answered[(answer.get("agent_id"), answer.get("seq"))] = time.time()
        conn.close()

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answered


def changes(org, first, agents, count, tag):
    """`count` set-status requests over `agents` agents of `org`, each a real change."""
    tokens = [token(first + n, org=org) for n in range(agents)]
    return [("/api/v1/presence/set-status/", {"status": "online", "message": f"{tag} {n}"}, tokens[n % agents])
            for n in range(count)]


def received(receiver):
    """{event id: (event, first receipt time)} of messages answered 2xx."""
    found = {}
    with receiver.lock:
        entries = list(receiver.received)
    for entry in entries:
        if entry["status"] < 300:
            for event in json.loads(entry["body"])["data"]["events"]:
                found.setdefault(event["id"], (event, entry["at"]))
    return found


def wait_events(receiver, count, timeout):
    deadline = time.monotonic() + timeout
    while len(received(receiver)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return received(receiver)


def added_cpu(web, worker, receiver, args):
    rounds = []
    for number in range(args.rounds):
        costs = {}
        for org, first in ((HOOKED, 1), (PLAIN, 100_001))[:: 1 if number % 2 else -1]:
            before, worker_before, had = web.cpu_seconds(), worker.cpu_seconds(), len(received(receiver))
            fire(web.url, changes(org, first, args.agents, args.per_round, f"round {number}"))
            costs[org] = (web.cpu_seconds() - before) * 1e6 / args.per_round
            if org == HOOKED:
                wait_events(receiver, had + args.per_round, 60)
                costs["worker"] = (worker.cpu_seconds() - worker_before) * 1e6 / args.per_round
        rounds.append(costs)
        print(f"  round {number + 1}: {costs}", file=sys.stderr)
    print(f"\n{args.per_round} REST set-status per round from {THREADS} keep-alive clients, {args.rounds} rounds: "
          "CPU µs per change, median [min-max]\n| | CPU µs |\n|---|---|")
    for name, key in (("web, org with no endpoint", PLAIN), ("web, org with one endpoint", HOOKED),
                      ("worker, per event delivered", "worker")):
        values = [r[key] for r in rounds]
        print(f"| {name} | {statistics.median(values):.0f} [{min(values):.0f}-{max(values):.0f}] |")
    added = [r[HOOKED] - r[PLAIN] for r in rounds]
    print(f"| web, added by the endpoint | {statistics.median(added):.0f} [{min(added):.0f}-{max(added):.0f}] |")


def burst(web, _worker, receiver, args):
    had, messages_before = len(received(receiver)), len(receiver.received)
    started = time.time()
    answered = fire(web.url, changes(HOOKED, 1, args.agents, args.burst, "burst"))
    found = wait_events(receiver, had + args.burst, 120)
    new = {eid: (event, at) for eid, (event, at) in found.items() if event["data"]["message"].startswith("burst")}
    lags = sorted(at - answered[(event["data"]["agent_id"], event["data"]["seq"])] for event, at in new.values()
                  if (event["data"]["agent_id"], event["data"]["seq"]) in answered)
    last = max(at for _, at in new.values())
    messages = len(receiver.received) - messages_before
    pick = {q: lags[min(len(lags) - 1, int(q * len(lags)))] for q in (0.5, 0.99)}
    print(f"\nBurst: {args.burst} changes across {args.agents} agents, one endpoint\n| figure | value |\n|---|---|\n"
          f"| messages received | {messages} |\n| events received (unique ids) | {len(new)} of {args.burst} |\n"
          f"| events per second, first request to last receipt | {len(new) / (last - started):.0f} |\n"
          f"| answer to receipt, p50 / p99 / max | {pick[0.5] * 1000:.0f} / {pick[0.99] * 1000:.0f} / "
          f"{lags[-1] * 1000:.0f} ms |")


def drain(web, worker, receiver, args):
    """The outbox filled with the worker stopped, then drained by a new worker: delivery's own rate."""
    worker.stop()
    had = len(received(receiver))
    fire(web.url, changes(HOOKED, 1, args.agents, args.burst, "drain"))
    started = time.time()
    fresh = Worker(worker.env)
    args.workers.append(fresh)
    found = wait_events(receiver, had + args.burst, 300)
    times = sorted(at for event, at in found.values() if event["data"]["message"].startswith("drain"))
    print(f"\nDrain: {args.burst} events waiting in the outbox, a worker started\n| figure | value |\n|---|---|\n"
          f"| events received | {len(times)} of {args.burst} |\n"
          f"| worker start to last receipt | {times[-1] - started:.1f} s |\n"
          f"| events per second, first to last receipt | {len(times) / max(1e-3, times[-1] - times[0]):.0f} |")
    return fresh


def in_process(args):
    """Process CPU per set-status in this process (Flask test client, no server): outbox off, no endpoint, one."""
    sys.path.insert(0, ROOT)
    from presence_app import create_app
    from presence_app.services import outbox

    app = create_app({**server_env(os.environ["BENCH_DATABASE_URL"]), "APP_ENV": "testing"})
    client, write = app.test_client(), outbox._write
    variants = {"outbox off": (PLAIN, 100_001, lambda events: None), "org with no endpoint": (PLAIN, 100_001, write),
                "org with one endpoint": (HOOKED, 1, write)}
    results = {name: [] for name in variants}
    for number in range(args.rounds * 3):
        for name, (org, first, writer) in variants.items():
            outbox._write = writer
            bodies = changes(org, first, args.agents, 300, f"in-process {number}")
            started = time.process_time()
            for path, body, bearer in bodies:
                assert client.post(path, json=body, headers={"Authorization": f"Bearer {bearer}"}).status_code == 200
            results[name].append((time.process_time() - started) * 1e6 / len(bodies))
    outbox._write = write
    print("\nIn process (Flask test client, one thread): CPU µs per REST set-status, median [min-max] of "
          f"{args.rounds * 3} interleaved rounds of 300\n| | CPU µs |\n|---|---|")
    for name, values in results.items():
        print(f"| {name} | {statistics.median(values):.0f} [{min(values):.0f}-{max(values):.0f}] |")


def outage(web, _worker, receiver, args):
    had = len(received(receiver))
    receiver.down()
    went_down = time.time()
    count = 0
    while time.time() - went_down < args.down:
        fire(web.url, changes(HOOKED, 1, args.agents, 100, f"outage {count}"))
        count += 100
        time.sleep(1)
    receiver.up()
    print(f"  receiver back after {args.down} s; {count} changes meanwhile", file=sys.stderr)
    came_back = time.time()
    found = wait_events(receiver, had + count, 420)
    carriers = {}
    for entry in receiver.received:
        if entry["status"] < 300:
            for event in json.loads(entry["body"])["data"]["events"]:
                carriers.setdefault(event["id"], set()).add(entry["headers"]["webhook-id"])
    twice = sum(1 for ids in carriers.values() if len(ids) > 1)
    print(f"\nOutage: receiver down {args.down} s with {count} changes\n| figure | value |\n|---|---|\n"
          f"| events received (unique ids) | {len(found) - had} of {count} |\n"
          f"| events under two message ids | {twice} |\n"
          f"| all in, after the receiver came back | {time.time() - came_back:.0f} s |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, default in (("agents", 1000), ("burst", 5000), ("rounds", 3), ("per-round", 2000), ("down", 30)):
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--parts", default="cpu,inprocess,burst,drain,outage")
    args = parser.parse_args()
    parts = args.parts.split(",")
    os.sched_setaffinity(0, {1})
    url, drop = database()
    redis, redis_url = start_redis(tempfile.mkdtemp())
    receiver = Receiver(Path(tempfile.mkdtemp()))
    env = dict(server_env(url, REDIS_URL=redis_url, WEBHOOK_ALLOW_PRIVATE="1", WEBHOOK_CA_FILE=receiver.ca_file),
               APP_ENV="testing")
    subprocess.run([PY, "-m", "flask", "--app", "presence_app", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    port = free_port()
    web = Server("web", [PY, "wsgi.py"], port, dict(env, PORT=str(port)))
    worker = Worker(env)
    args.workers = [worker]
    try:
        fire(web.url, changes(HOOKED, 1, args.agents, args.agents, "warm-up"))  # agents made, statements prepared
        fire(web.url, changes(PLAIN, 100_001, args.agents, args.agents, "warm-up"))
        hook = http.client.HTTPConnection(*web.url.removeprefix("http://").split(":"))
        hook.request("POST", "/api/v1/webhooks/", json.dumps({"url": receiver.url}),
                     {"Authorization": f"Bearer {token('backend', role='service', org=HOOKED)}"})
        assert hook.getresponse().status == 201
        for name, run in (("cpu", added_cpu), ("burst", burst), ("drain", drain), ("outage", outage)):
            if name in parts:
                worker = run(web, worker, receiver, args) or worker
        if "inprocess" in parts:
            os.environ["BENCH_DATABASE_URL"] = url
            in_process(args)
    finally:
        web.stop()
        for each in args.workers:
            if each.proc.poll() is None:
                each.stop()
        receiver.close()
        redis.kill()
        drop()


if __name__ == "__main__":
    main()
