"""Prometheus metrics of real web and worker processes: counters move with real traffic, the token holds."""
import re

import pytest
import requests

from presence_app import create_app
from presence_app.config import ConfigError
from presence_app.jobs import PERIODIC

from .clients import Rest
from .support import CHAT, SECRET, free_port, metric, scrape, wait_for

pytestmark = pytest.mark.processes

JOBS = [job.name for job in PERIODIC]
TOKEN = "metrics-token-for-the-tests-0123456789"
FAST = {"PRESENCE_TIMEOUT_SECONDS": 2, "PRESENCE_SWEEP_SECONDS": 1, "TYPING_TIMEOUT_SECONDS": 2,
        "PROCESS_BEAT_SECONDS": 1, "DISCONNECT_GRACE_SECONDS": 1, "LOGIN_RATE_LIMIT": "1 per minute"}


def test_web_counters_move_with_real_heartbeats_transitions_sockets_and_refusals(processes, clients):
    _, url = processes.web(**FAST)
    before = scrape(f"{url}/metrics")
    rest = Rest(url)
    rest.heartbeat(7)
    rest.set_status(7, "busy", "meeting")
    console = clients.console(url, 8).connect()
    assert console.call("heartbeat")["ok"] is True
    for _ in range(2):  # the second login within the minute is refused
        answer = requests.post(f"{url}/api/v1/auth/token", json={"email": "x@example.com", "password": "nope-nope"},
                               timeout=5)
    assert answer.status_code == 429, answer.text

    after = scrape(f"{url}/metrics")

    def moved(name, **labels):
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert moved("presence_heartbeats_total", transport="rest") == 1
    assert moved("presence_heartbeats_total", transport="socket") == 1
    assert moved("presence_transitions_total", reason="manual") >= 1  # busy (and online, if the heartbeat was first)
    assert moved("presence_events_emitted_total", event="agent_presence_changed") >= 2
    assert moved("presence_events_emitted_total", event="presence_state") >= 1
    assert moved("presence_rate_limit_refusals_total", scope="login") == 1
    assert moved("presence_request_duration_seconds_count", endpoint="api.heartbeat", status="200") == 1
    assert moved("presence_request_duration_seconds_count", endpoint="api.set_status", status="200") == 1
    assert moved("presence_request_duration_seconds_count", endpoint="api.issue_token", status="429") == 1
    assert metric(after, "presence_live_sockets") == 1
    console.close()
    wait_for(lambda: metric(scrape(f"{url}/metrics"), "presence_live_sockets") == 0, message="the socket uncounted")


def test_request_latency_is_labelled_by_endpoint_never_by_raw_path(processes):
    _, url = processes.web()
    for agent_id in (1, 2, 3):
        Rest(url).call("GET", f"/presence/{agent_id}/", 5)
    requests.get(f"{url}/no/such/path/{free_port()}", timeout=5)
    values = scrape(f"{url}/metrics")
    endpoints = {dict(labels).get("endpoint") for (name, labels) in values
                 if name == "presence_request_duration_seconds_count"}
    assert metric(values, "presence_request_duration_seconds_count", endpoint="api.one", status="404") == 3
    assert metric(values, "presence_request_duration_seconds_count", endpoint="unmatched", status="404") == 1
    assert not any("/" in endpoint for endpoint in endpoints), endpoints


def test_worker_serves_its_job_metrics_on_metrics_port(production, clients):
    production.env.update({k: str(v) for k, v in FAST.items()})
    _, url = production.web()
    port = free_port()
    production.worker(METRICS_PORT=port)
    worker = f"http://127.0.0.1:{port}/metrics"
    rest = Rest(url)
    rest.set_status(11, "online")  # then silent: the worker's sweep times it out
    rest.typing(12, CHAT)  # never renewed: the worker's sweep stops it

    def swept():
        values = scrape(worker) if _up(worker) else {}
        counted = (metric(values, "presence_transitions_total", reason="timeout") >= 1
                   and metric(values, "presence_events_emitted_total", event="agent_presence_changed") >= 1
                   and metric(values, "presence_typing_expiries_total") == 1
                   and metric(values, "presence_events_emitted_total", event="typing_stop") == 1
                   and all(metric(values, "presence_sweep_runs_total", job=job, outcome="ok") >= 1 for job in JOBS))
        return values if counted else None

    values = wait_for(swept, timeout=30, message="a timeout, a typing expiry and every job's run counted by the worker")
    for job in JOBS:
        assert metric(values, "presence_sweep_duration_seconds_count", job=job) >= metric(
            values, "presence_sweep_runs_total", job=job, outcome="ok"), job
    web = scrape(f"{url}/metrics")
    assert metric(web, "presence_sweep_runs_total", job="check_agent_presence_timeout", outcome="ok") == 0


def _up(url):
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_metrics_token_is_required_on_web_and_worker_when_set(production):
    _, url = production.web(METRICS_TOKEN=TOKEN)
    port = free_port()
    production.worker(METRICS_TOKEN=TOKEN, METRICS_PORT=port)
    worker = f"http://127.0.0.1:{port}/metrics"
    wait_for(lambda: _status(worker) == 401, timeout=30, message="the worker's metrics port")
    for target in (f"{url}/metrics", worker):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                        {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": "Bearer \u00e9\u00e9"}):
            answer = requests.get(target, headers=headers, timeout=5)
            assert answer.status_code == 401, (target, headers)
            assert answer.json()["error"] == "unauthorized"
        assert "presence_heartbeats_total" in requests.get(
            target, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5).text


def _status(url):
    try:
        return requests.get(url, timeout=2).status_code
    except requests.RequestException:
        return None


def test_production_without_a_token_refuses_metrics(make_app):
    client = make_app(APP_ENV="production").test_client()
    answer = client.get("/metrics")
    assert answer.status_code == 403
    assert answer.json["error"] == "forbidden" and "METRICS_TOKEN" in answer.json["message"]
    assert make_app(APP_ENV="development").test_client().get("/metrics").status_code == 200


@pytest.mark.parametrize("settings, complaint", [
    ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be at least"),
    ({"APP_ENV": "production", "METRICS_PORT": "9100"}, "METRICS_PORT needs METRICS_TOKEN"),
    ({"METRICS_PORT": "port"}, "METRICS_PORT must be a number"),
    ({"METRICS_PORT": "70000"}, "METRICS_PORT must be a TCP port"),
])
def test_metrics_settings_are_checked_at_start(settings, complaint):
    with pytest.raises(ConfigError, match=complaint):
        create_app({"JWT_SECRET_KEY": SECRET, "APP_ENV": "testing", **settings})


def test_each_process_logs_what_its_counters_moved_when_asked(production):
    """METRICS_LOG_SECONDS: one l2met line per interval per process (Heroku reads metrics from logs)."""
    web, url = production.web(METRICS_LOG_SECONDS=1, DYNO="web.1")
    worker = production.worker(METRICS_LOG_SECONDS=1, DYNO="worker.1")
    rest = Rest(url)
    rest.heartbeat(7)
    rest.heartbeat(7)
    requests.get(f"{url}/api/v1/presence/me/", timeout=5)  # no token: a 401

    def logged():
        lines = [line for line in web.log().splitlines() if "metrics source=web.1" in line]
        return lines if any("count#presence.heartbeats=2" in line for line in lines) else None

    lines = wait_for(logged, timeout=10, message="the web process's metrics line")
    moved = next(line for line in lines if "count#presence.heartbeats=2" in line)
    assert int(re.search(r"count#presence.requests.2xx=(\d+)", moved).group(1)) >= 2  # and /health checks
    assert "count#presence.requests.4xx=1" in moved
    assert "sample#presence.live_sockets=0" in moved
    assert wait_for(lambda: "metrics source=worker.1" in worker.log(), timeout=10, message="the worker's line")
