"""Supervisors across real processes: overruns announced once by two racing workers, expiry and idleness
through real web processes and Socket.IO clients.
"""
import time
from datetime import UTC, datetime, timedelta

import pytest
import redis
from rq import Queue
from sqlalchemy import update

from presence_app import jobs
from presence_app.jobs import PERIODIC
from presence_app.runtime import LEADER_KEY, QUEUE

from .clients import P, Rest
from .support import free_port, metric, scrape, wait_for

pytestmark = pytest.mark.processes

STATUS_SWEEP, POLL, LATENCY = 1, 1, 1.5
FAST = {"STATUS_SWEEP_SECONDS": STATUS_SWEEP, "PROCESS_BEAT_SECONDS": 1, "DISCONNECT_GRACE_SECONDS": 1}
SUP, OTHER_SUP = 100, 200
LUNCH = {"code": "lunch", "label": "Lunch", "statuses": ["away"], "max_minutes": 1}
SCHEDULED_JOBS = "rq:scheduler:scheduled_jobs"


@pytest.fixture
def redis_client(clean_redis):
    client = redis.Redis.from_url(clean_redis)
    yield client
    client.close()


def backdate_code(database, agent_id, seconds):
    """Move the agent's reason code's start into the past, as if that much time had gone by."""
    since = database.presence(agent_id).code_since
    with database.engine.begin() as conn:
        conn.execute(update(P).where(P.c.agent_id == agent_id).values(code_since=since - timedelta(seconds=seconds)))


def overruns(console, **match):
    return [p["data"] for p in console.received("agent_status_overrun", **match)]


def test_two_racing_workers_announce_an_overrun_once_to_the_orgs_supervisors(production, clients, database,
                                                                            redis_client):
    production.env.update({k: str(v) for k, v in FAST.items()})
    _, url = production.web()
    ports = free_port(), free_port()  # each worker's metrics count its runs
    production.worker(name="worker-a", METRICS_PORT=ports[0])
    production.worker(name="worker-b", METRICS_PORT=ports[1])
    rest = Rest(url)
    rest.ok("PUT", "/reason-codes/", SUP, {"codes": [LUNCH]}, role="supervisor")
    rest.ok("PUT", "/reason-codes/", OTHER_SUP, {"codes": [LUNCH]}, role="supervisor", org="other")
    supervisor = clients.console(url, SUP, role="supervisor").connect()
    colleague = clients.console(url, 6).connect()
    outsider = clients.console(url, OTHER_SUP, role="supervisor", org="other").connect()
    wait_for(lambda: redis_client.exists(LEADER_KEY) and redis_client.zcard(SCHEDULED_JOBS) == len(PERIODIC),
             timeout=30, message="a worker leading the scheduler")
    rest.ok("POST", "/presence/set-status/", 5, {"status": "away", "message": "Lunch", "reason_code": "lunch"},
            name="Ana")
    rest.ok("POST", "/presence/set-status/", 7, {"status": "away", "reason_code": "lunch"}, org="other")

    backdate_code(database, 5, 61)
    # Beyond the scheduled sweep, flood the queue so that both workers run the sweep at once.
    queue = Queue(QUEUE, connection=redis_client)
    for _ in range(20):
        queue.enqueue(jobs.announce_status_overruns)

    (announced,) = supervisor.wait("agent_status_overrun", timeout=STATUS_SWEEP + POLL + LATENCY + 5)
    wait_for(lambda: queue.count == 0, timeout=15, message="the flood of sweeps drained")
    time.sleep(2 * STATUS_SWEEP + POLL)  # later sweeps announce nothing again

    data = announced["data"]
    assert (data["agent_id"], data["name"], data["status"], data["reason_code"], data["max_minutes"]) == (
        5, "Ana", "away", "lunch", 1)
    assert len(overruns(supervisor)) == 1
    assert overruns(colleague) == [] and overruns(outsider) == []
    workers_ran = [metric(scrape(f"http://127.0.0.1:{port}/metrics"), "presence_sweep_runs_total",
                          job="announce_status_overruns", outcome="ok") for port in ports]
    assert all(workers_ran), f"both workers ran the sweep: {workers_ran}"


def test_an_expiring_status_returns_within_the_bound_once_in_production(production, clients, database,
                                                                        redis_client):
    production.env.update({k: str(v) for k, v in FAST.items()})
    _, url = production.web()
    production.worker()
    rest, supervisor = Rest(url), clients.console(url, SUP, role="supervisor").connect()
    wait_for(lambda: redis_client.zcard(SCHEDULED_JOBS) == len(PERIODIC), timeout=30, message="the schedules")
    rest.ok("POST", "/presence/set-status/", 5, {"status": "online", "message": "Queue A"})
    until = datetime.now(UTC) + timedelta(seconds=2)
    rest.ok("POST", "/presence/set-status/", 5, {"status": "busy", "until": until.isoformat()})
    deadline = time.monotonic() + 2

    (event,) = supervisor.wait("agent_presence_changed", agent_id=5, reason="expired",
                               timeout=2 + STATUS_SWEEP + POLL + LATENCY + 5)
    arrived = time.monotonic()
    time.sleep(2 * STATUS_SWEEP + POLL)

    print(f"\nstatus sweep {STATUS_SWEEP}s: deadline -> expired event {arrived - deadline:.2f}s")
    assert arrived - deadline <= STATUS_SWEEP + POLL + LATENCY
    assert (event["data"]["status"], event["data"]["message"], event["data"]["previous_status"]) == (
        "online", "Queue A", "busy")
    assert len(supervisor.received("agent_presence_changed", agent_id=5, reason="expired")) == 1
    assert database.reasons(5) == ["manual", "manual", "expired"]


def test_an_idle_console_goes_away_and_back_through_a_real_socket(processes, clients, database):
    _, url = processes.web(**FAST)  # embedded mode
    agent, supervisor = clients.console(url, 5).connect(), clients.console(url, SUP, role="supervisor").connect()
    assert agent.call("set_status", {"status": "online"})["ok"]

    idle, active = agent.call("activity", {"idle": True}), agent.call("activity", {"idle": False})

    assert (idle["presence"]["status"], active["presence"]["status"]) == ("away", "online")
    supervisor.wait("agent_presence_changed", agent_id=5, reason="active")
    assert [d["reason"] for d in supervisor.changes(5)][-2:] == ["idle", "active"]
    assert database.reasons(5)[-2:] == ["idle", "active"]
