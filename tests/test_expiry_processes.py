"""Production-mode expiry across real processes: web (eventlet), `worker` (RQ + rq-scheduler), Redis.

Every bound below is measured from the client's last sign of life (the moment the request was
sent, so it overestimates) to the arrival of the event at a real Socket.IO client:
PRESENCE_TIMEOUT + PRESENCE_SWEEP + SCHEDULER_POLL + LATENCY, where LATENCY covers the queue,
the job and the emit through Redis on a loaded two-core machine.
"""
import os
import random
import shutil
import threading
import time

import pytest
import redis

from presence_app.jobs import PERIODIC
from presence_app.runtime import LEADER_KEY

from .clients import Rest
from .support import CHAT, MEETING, running, wait_for

pytestmark = pytest.mark.processes

TIMEOUT, SWEEP, TYPING, GRACE, BEAT = 2, 1, 2, 1, 1
POLL = 1  # SCHEDULER_POLL_SECONDS
LATENCY = 1.5  # queue, job, emit through Redis, Socket.IO delivery
FAST = {"PRESENCE_TIMEOUT_SECONDS": TIMEOUT, "PRESENCE_SWEEP_SECONDS": SWEEP, "TYPING_TIMEOUT_SECONDS": TYPING,
        "DISCONNECT_GRACE_SECONDS": GRACE, "PROCESS_BEAT_SECONDS": BEAT}
TIMEOUT_BOUND = TIMEOUT + SWEEP + POLL + LATENCY
TYPING_SWEEP = max(1, min(5, int(TYPING / 6)))  # config.py's derivation
TYPING_BOUND = TYPING + TYPING_SWEEP + POLL + LATENCY
REAP_BOUND = 3 * BEAT + BEAT + POLL + LATENCY  # dead after 3 beats, reaped by a job every beat
SCHEDULED_JOBS = "rq:scheduler:scheduled_jobs"  # rq_scheduler.Scheduler.scheduled_jobs_key


@pytest.fixture
def fast(production):
    """Production processes with every timeout set to seconds."""
    production.env.update({k: str(v) for k, v in FAST.items()})
    return production


@pytest.fixture
def redis_client(clean_redis):
    client = redis.Redis.from_url(clean_redis)
    yield client
    client.close()


def scheduler_ready(redis_client):
    """Wait until a worker leads rq-scheduler and the periodic jobs are registered."""
    wait_for(lambda: redis_client.exists(LEADER_KEY) and redis_client.zcard(SCHEDULED_JOBS) == len(PERIODIC),
             timeout=30, message="a worker leading rq-scheduler with every periodic job")


def scheduled_once(redis_client):
    """Every periodic job is scheduled exactly once (no copy from a second worker or a restart)."""
    # rq-scheduler takes a due job out of its set and puts it back with its next time: sample
    # until the set is whole, and never see more than one copy of each job.
    counts = []
    wait_for(lambda: counts.append(redis_client.zcard(SCHEDULED_JOBS)) or counts[-1] == len(PERIODIC),
             timeout=5, message="every periodic job scheduled")
    assert max(counts) == len(PERIODIC), counts


def leads(proc):
    return proc.log().count("this worker leads the scheduler")


def go_busy(rest, sub):
    rest.set_status(sub, "busy", MEETING)
    return rest.heartbeat(sub)


def test_silent_agent_goes_offline_within_bound_and_the_event_arrives_once(fast, observers, database,
                                                                           redis_client):
    _, url = fast.web()
    fast.worker()
    rest, observer = Rest(url), observers(url, 100, role="supervisor")
    scheduler_ready(redis_client)
    agents = list(range(1, 9))
    last = {}
    for sub in agents:
        go_busy(rest, sub)
    for sub in agents:  # last signs of life spread over two sweep periods, so every phase is sampled
        time.sleep(2 * SWEEP / len(agents))
        last[sub], answer = rest.heartbeat(sub)
        assert answer["status"] == "busy"

    wait_for(lambda: all(observer.changes(sub, reason="timeout") for sub in agents), timeout=TIMEOUT_BOUND + 5,
             message="a timeout event for every silent agent")
    time.sleep(2 * SWEEP + POLL)  # later sweeps must announce nothing again

    delays, db_delays = [], []
    for sub in agents:
        events = observer.changes(sub, reason="timeout")
        assert len(events) == 1, events
        arrived, data = events[0]
        assert (data["status"], data["previous_status"], data["message"]) == ("offline", "busy", "")
        assert [row.reason for row in database.ledger(sub)].count("timeout") == 1
        row = database.presence(sub)
        assert (row.status, row.timed_out, row.resume_status, row.resume_message) == ("offline", True, "busy", MEETING)
        assert data["seq"] == row.seq == database.ledger(sub)[-1].seq
        delays.append(arrived - last[sub])
        db_delays.append((database.ledger(sub)[-1].at - row.last_seen).total_seconds())
    print(f"\ntimeout {TIMEOUT}s, sweep {SWEEP}s, poll {POLL}s: last sign of life -> event arrival "
          f"min {min(delays):.2f}s max {max(delays):.2f}s; last_seen -> sweep commit (db clock) "
          f"min {min(db_delays):.2f}s max {max(db_delays):.2f}s")
    assert max(delays) <= TIMEOUT_BOUND, delays
    assert min(db_delays) >= TIMEOUT  # nobody went offline early


def test_resume_restores_busy_with_its_message(fast, observers, database, redis_client):
    _, url = fast.web()
    fast.worker()
    rest, observer = Rest(url), observers(url, 100, role="supervisor")
    scheduler_ready(redis_client)
    go_busy(rest, 11)
    (_, timed_out), = wait_for(lambda: observer.changes(11, reason="timeout"), timeout=TIMEOUT_BOUND + 5,
                               message="agent 11 timed out")

    _, answer = rest.heartbeat(11)

    assert (answer["status"], answer["status_message"]) == ("busy", MEETING)
    (_, resumed), = wait_for(lambda: observer.changes(11, reason="resumed"), message="the resumed event")
    assert resumed["status"] == "busy" and resumed["message"] == MEETING and resumed["previous_status"] == "offline"
    assert resumed["seq"] == timed_out["seq"] + 1 == answer["seq"]
    # Keep heartbeating (a sweep must not resume it twice); a bare sleep would outlast TIMEOUT.
    for _ in range(4 * (SWEEP + POLL)):
        time.sleep(0.25)
        assert rest.heartbeat(11)[1]["seq"] == answer["seq"]
    assert len(observer.changes(11, reason="resumed")) == 1
    assert database.reasons(11)[-2:] == ["timeout", "resumed"]
    assert rest.get(100, 11)["status"] == "busy"


def test_unrenewed_typing_indicator_is_stopped_once(fast, observers, database, redis_client):
    _, url = fast.web(PRESENCE_TIMEOUT_SECONDS=60)  # the agent stays online: only the typing rule acts
    fast.worker(PRESENCE_TIMEOUT_SECONDS=60)
    rest, observer = Rest(url), observers(url, 100, chats=[CHAT], role="supervisor")
    scheduler_ready(redis_client)
    rest.set_status(12, "online")

    sent, answer = rest.typing(12, CHAT)
    assert answer["started"] is True

    (arrived, stop), = wait_for(lambda: observer.of("typing_stop", agent_id=12), timeout=TYPING_BOUND + 5,
                                message="typing_stop of the stale indicator")
    print(f"\ntyping timeout {TYPING}s, typing sweep {TYPING_SWEEP}s: renewal -> typing_stop {arrived - sent:.2f}s")
    assert arrived - sent <= TYPING_BOUND
    assert arrived - sent >= TYPING
    assert stop["chat_id"] == CHAT and stop["from"] == "Agent 12"
    time.sleep(2 * TYPING_SWEEP + POLL)
    assert len(observer.of("typing_start", agent_id=12)) == 1
    assert len(observer.of("typing_stop", agent_id=12)) == 1
    assert database.typing_count() == 0
    assert rest.get(100, 12)["status"] == "online"


def test_sigkill_of_a_web_process_turns_its_agents_websocket_connected_false_within_bound(
        fast, observers, database, redis_client):
    doomed, doomed_url = fast.web(name="doomed")
    _, url = fast.web(name="survivor")
    fast.worker()
    observer = observers(url, 100, role="supervisor")
    scheduler_ready(redis_client)
    agent = observers(doomed_url, 21)
    assert agent.call("set_status", {"status": "online", "message": ""})["ok"]
    wait_for(lambda: observer.changes(21, websocket_connected=True), message="agent 21 connected")

    doomed.kill()
    killed = time.monotonic()

    (arrived, data), = wait_for(lambda: observer.changes(21, websocket_connected=False), timeout=REAP_BOUND + 5,
                                message="agent 21 announced disconnected")
    print(f"\nbeat {BEAT}s (dead after {3 * BEAT}s): SIGKILL -> disconnected event {arrived - killed:.2f}s")
    assert arrived - killed <= REAP_BOUND
    assert data["reason"] == "disconnected" and data["is_available"] is False
    seen = Rest(url).get(100, 21)
    assert (seen["websocket_connected"], seen["connections"]) == (False, 0)
    time.sleep(2 * BEAT + POLL)
    assert len(observer.changes(21, websocket_connected=False, reason="disconnected")) == 1
    assert database.reasons(21).count("disconnected") == 1


def test_heartbeats_hammered_against_sweeps_never_leave_a_live_agent_offline(fast, observers, database,
                                                                           redis_client):
    _, url = fast.web()
    fast.worker()
    observer = observers(url, 100, role="supervisor")
    scheduler_ready(redis_client)
    live, edge = [31, 32, 33, 34], [41, 42, 43, 44, 45, 46]
    for sub in live + edge:
        go_busy(Rest(url), sub)
    stop, failures = threading.Event(), []

    def hammer(sub, low, high):
        rest, rng = Rest(url), random.Random(sub)
        while not stop.is_set():
            try:
                _, answer = rest.heartbeat(sub)
                if (answer["status"], answer["status_message"]) != ("busy", MEETING):
                    failures.append((sub, answer))
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                failures.append((sub, repr(exc)))
            stop.wait(rng.uniform(low, high))

    # live agents beat far inside the timeout; edge agents beat around it, so sweeps race them
    threads = [threading.Thread(target=hammer, args=(s, 0.05, 0.2)) for s in live]
    threads += [threading.Thread(target=hammer, args=(s, 0.5 * TIMEOUT, 2 * TIMEOUT)) for s in edge]
    with running(threads, stop, join_timeout=15):
        lost = database.lost_during(8, TIMEOUT, interval=0.02)

    assert not failures, failures[:5]
    assert not lost, f"agents offline by timeout despite a recent heartbeat: {sorted(lost)}"
    for sub in live:
        assert "timeout" not in database.reasons(sub)
    # Heartbeats stopped: each edge agent times out once more at most, then its ledger is final (read
    # while a sweep still ran, a timeout could land between two reads of it).
    wait_for(lambda: all(database.presence(sub).timed_out for sub in edge), timeout=TIMEOUT_BOUND + 5,
             message="every edge agent timed out once its heartbeats stopped")
    raced = 0
    for sub in edge:
        rows = database.ledger(sub)
        reasons = [row.reason for row in rows]
        after = reasons[reasons.index("manual") + 1:]
        # each timeout answered by one resume, and the last one left standing
        assert after == (["timeout", "resumed"] * len(after))[:len(after)] and after[-1] == "timeout", after
        assert [row.seq for row in rows] == list(range(1, len(rows) + 1))
        raced += after.count("timeout") - 1  # the last came after the heartbeats stopped
    assert raced > 0, "no edge agent timed out: the sweeps never raced a heartbeat"
    time.sleep(POLL)  # the last events are on their way
    for sub in edge:
        assert len(observer.changes(sub, reason="timeout")) == database.reasons(sub).count("timeout")
    print(f"\nedge agents timed out and resumed {raced} times; no heartbeat lost")


def test_two_workers_run_one_scheduler_and_announce_each_timeout_once(fast, observers, database, redis_client):
    _, url = fast.web()
    workers = [fast.worker(name="worker-a"), fast.worker(name="worker-b")]
    rest, observer = Rest(url), observers(url, 100, role="supervisor")
    scheduler_ready(redis_client)
    for sub in (51, 52, 53):
        go_busy(rest, sub)
    wait_for(lambda: all(observer.changes(s, reason="timeout") for s in (51, 52, 53)),
             timeout=TIMEOUT_BOUND + 5, message="timeouts with two workers")
    time.sleep(2 * SWEEP + POLL)
    for sub in (51, 52, 53):
        assert len(observer.changes(sub, reason="timeout")) == 1
        assert database.reasons(sub).count("timeout") == 1
    assert sorted(leads(w) for w in workers) == [0, 1], "exactly one worker leads the scheduler"
    scheduled_once(redis_client)

    leader, follower = sorted(workers, key=leads, reverse=True)
    leader.kill()  # SIGKILL: its lease expires and the other worker takes over
    go_busy(rest, 54)
    lease = 10  # the leader lease's TTL (runtime.lead_scheduler)
    wait_for(lambda: observer.changes(54, reason="timeout"), timeout=lease + TIMEOUT_BOUND + 5,
             message="a timeout after the leading worker died")
    assert leads(follower) == 1
    scheduled_once(redis_client)
    time.sleep(2 * SWEEP + POLL)
    assert len(observer.changes(54, reason="timeout")) == 1
    for sub in (51, 52, 53):
        assert len(observer.changes(sub, reason="timeout")) == 1


def test_worker_stopped_for_several_sweeps_and_restarted_announces_nothing_twice(fast, observers, database,
                                                                               redis_client):
    _, url = fast.web()
    first = fast.worker(name="worker-1")
    rest, observer = Rest(url), observers(url, 100, role="supervisor")
    scheduler_ready(redis_client)
    go_busy(rest, 61)
    wait_for(lambda: observer.changes(61, reason="timeout"), timeout=TIMEOUT_BOUND + 5, message="agent 61 timed out")

    first.stop()
    assert not redis_client.exists(LEADER_KEY), "a clean stop releases the scheduler lease"
    for sub in (62, 63):
        go_busy(rest, sub)
    time.sleep(TIMEOUT + 4 * SWEEP)  # several sweep periods pass with no worker
    assert not observer.changes(62, reason="timeout") and not observer.changes(63, reason="timeout")

    fast.worker(name="worker-2")
    wait_for(lambda: observer.changes(62, reason="timeout") and observer.changes(63, reason="timeout"),
             timeout=30, message="the restarted worker's first sweeps")
    scheduled_once(redis_client)  # the restart replaced the schedules, not added to them
    time.sleep(2 * SWEEP + POLL)
    for sub in (61, 62, 63):
        assert len(observer.changes(sub, reason="timeout")) == 1
        assert database.reasons(sub).count("timeout") == 1


def _libfaketime():
    for path in ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                 "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1"):
        if os.path.exists(path):
            return path
    return None


def start_worker_with_clock(processes, offset):
    """`python worker.py` whose clock (and only its clock) is shifted by `offset`, through libfaketime."""
    return processes.worker(name="worker-faketime", LD_PRELOAD=_libfaketime(), FAKETIME=offset,
                            FAKETIME_DONT_FAKE_MONOTONIC="1")


@pytest.mark.skipif(not shutil.which("faketime") or not _libfaketime(),
                    reason="Debian's faketime is not installed (.ci/install-faketime installs it)")
@pytest.mark.parametrize("offset", ["+5m", "-5m"])
def test_worker_with_a_shifted_clock_times_out_nobody_alive(fast, observers, database, redis_client, offset):
    if not os.environ.get("DATABASE_URL"):
        pytest.skip("SQLite has no server clock: it reads each process's own clock, so a shifted worker "
                    "shifts its database's now(); production runs on PostgreSQL")
    _, url = fast.web()
    worker = start_worker_with_clock(fast, offset)
    rest, observer = Rest(url), observers(url, 100, role="supervisor")
    scheduler_ready(redis_client)
    assert worker.alive()
    on_socket = observers(url, 71)
    assert on_socket.call("set_status", {"status": "online", "message": ""})["ok"]
    go_busy(rest, 72)  # alive by heartbeats
    go_busy(rest, 73)  # silent: the sweep must still catch it on time
    stop = threading.Event()

    def keep_alive():
        beat = Rest(url)
        while not stop.wait(0.3):
            beat.heartbeat(72)

    with running([threading.Thread(target=keep_alive)], stop, join_timeout=10):
        sent = time.monotonic()
        (arrived, _), = wait_for(lambda: observer.changes(73, reason="timeout"), timeout=TIMEOUT_BOUND + 5,
                                 message="the silent agent timed out by the shifted worker")
        assert arrived - sent <= TIMEOUT_BOUND
        time.sleep(3 * SWEEP + POLL)  # more sweeps by the shifted worker
    assert "timeout" not in database.reasons(71) and "timeout" not in database.reasons(72)
    assert not observer.changes(71, reason="timeout") and not observer.changes(72, reason="timeout")
    assert [Rest(url).get(100, s)["status"] for s in (71, 72)] == ["online", "busy"]
