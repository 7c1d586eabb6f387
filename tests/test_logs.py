"""Logs of real processes: JSON lines, request ids, a quiet idle worker, start-up lines without secrets."""
import json
import re
import sqlite3
import sys
import time

import pytest
import requests
from flask_migrate import upgrade

from presence_app import create_app
from presence_app.config import ConfigError
from presence_app.extensions import db

from .clients import Rest
from .support import SECRET, Proc, bearer, free_port, metric, scrape, service_env, wait_for

pytestmark = pytest.mark.processes

JSON_FIELDS = {"time", "level", "logger", "message"}
MADE_ID = re.compile(r"[0-9a-f]{12}-[0-9a-f]+")


def json_lines(proc):
    """Every line the process wrote (stdout and stderr), each parsed as one JSON object."""
    lines = proc.log().splitlines()
    entries = []
    for line in lines:
        entry = json.loads(line)  # fails the test on any line that is not JSON
        assert isinstance(entry, dict) and set(entry) >= JSON_FIELDS, line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"]), line
        entries.append(entry)
    return entries


def test_json_mode_every_line_of_a_real_web_and_worker_is_one_json_object(production, clients):
    web, url = production.web(LOG_FORMAT="json", PROCESS_BEAT_SECONDS=1)
    worker = production.worker(LOG_FORMAT="json", PROCESS_BEAT_SECONDS=1)
    Rest(url).heartbeat(5)
    requests.get(f"{url}/no/such/page", timeout=5)
    console = clients.console(url, 6).connect()
    console.close()
    wait_for(lambda: "leads the scheduler" in worker.log(), timeout=30, message="the worker leading")
    time.sleep(2)  # a few job runs
    web.stop()
    worker.stop()
    for proc, role in ((web, "web"), (worker, "worker")):
        entries = json_lines(proc)
        assert any(e["message"].startswith(f"starting {role}: APP_ENV=testing") for e in entries), entries
        assert all(e["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") for e in entries)
    assert any(e["logger"] == "presence_app.runtime" and "retiring" in e["message"] for e in json_lines(web))


@pytest.fixture
def own_sqlite(tmp_path, base_env):
    """A migrated SQLite database of this test alone (it breaks it on purpose)."""
    url = f"sqlite:///{tmp_path / 'broken.db'}"
    app = create_app(dict(base_env, DATABASE_URL=url))
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return url, str(tmp_path / "broken.db")


def test_request_id_is_echoed_and_names_the_log_line_of_an_erroring_request(processes, own_sqlite):
    url_db, path = own_sqlite
    web, url = processes.web(LOG_FORMAT="json", DATABASE_URL=url_db)
    rest = Rest(url)
    assert rest.ok("GET", "/reason-codes/", 5) == {"codes": []}
    with sqlite3.connect(path) as conn:  # the table goes away under the running process
        conn.execute("DROP TABLE reason_codes")

    answer = requests.get(f"{url}/api/v1/reason-codes/", headers={**bearer(5), "X-Request-ID": "req-42.retry:1"},
                          timeout=5)
    assert answer.status_code == 503 and answer.json()["error"] == "service_unavailable"
    assert answer.headers["X-Request-ID"] == "req-42.retry:1"
    wait_for(lambda: any(e.get("request_id") == "req-42.retry:1" for e in json_lines(web)), message="its log line")
    [line] = [e for e in json_lines(web) if e.get("request_id") == "req-42.retry:1"]
    assert (line["level"], line["logger"]) == ("WARNING", "presence_app.errors")
    assert "database unavailable" in line["message"] and "reason_codes" in line["message"]
    assert not [e for e in json_lines(web) if e["message"].startswith("starting") and "request_id" in e]

    for given in (None, "two words", "x" * 129, "quote\"d"):  # missing or not sane: one of ours instead
        headers = {} if given is None else {"X-Request-ID": given}
        made = requests.get(f"{url}/health", headers=headers, timeout=5).headers["X-Request-ID"]
        assert MADE_ID.fullmatch(made), (given, made)
    ids = {requests.get(f"{url}/health", timeout=5).headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


def test_idle_worker_is_quiet_while_its_jobs_run(production):
    port = free_port()
    worker = production.worker(METRICS_PORT=port, PROCESS_BEAT_SECONDS=1, STATUS_SWEEP_SECONDS=1,
                               PRESENCE_SWEEP_SECONDS=1)
    metrics = f"http://127.0.0.1:{port}/metrics"

    def runs():
        try:
            values = scrape(metrics)
        except (requests.RequestException, AssertionError):
            return 0
        return sum(metric(values, "presence_sweep_runs_total", job=name, outcome="ok") for name in (
            "check_agent_presence_timeout", "maintain_connections", "expire_statuses"))

    wait_for(lambda: runs() >= 3, timeout=30, message="the worker running its jobs")
    before_lines, before_runs = worker.log().splitlines(), runs()
    time.sleep(6)
    after_lines, after_runs = worker.log().splitlines(), runs()
    assert after_runs - before_runs >= 9, "three jobs a second for six seconds ran"
    assert after_lines == before_lines, after_lines[len(before_lines):]


def test_start_up_lines_name_mode_database_redis_and_async_mode_never_a_password(processes, tmp_path, base_env):
    secret_db, secret_redis = "hunter2-database-secret", "hunter2-redis-secret"
    env = service_env(processes.env, PORT=free_port(), HOST="127.0.0.1",
                      DATABASE_URL=f"postgresql://presence:{secret_db}@127.0.0.1:1/presence",
                      REDIS_URL=f"redis://default:{secret_redis}@127.0.0.1:1/0")
    web = Proc([sys.executable, "wsgi.py"], env, str(tmp_path / "web.log"))
    worker = Proc([sys.executable, "worker.py"], env, str(tmp_path / "worker.log"))
    embedded = Proc([sys.executable, "wsgi.py"], service_env(processes.env, PORT=free_port(), HOST="127.0.0.1"),
                    str(tmp_path / "embedded.log"))
    try:
        for proc in (web, worker, embedded):
            wait_for(lambda proc=proc: "starting " in proc.log(), timeout=30, message=f"{proc.log_path} start-up")
        time.sleep(1)  # what follows the start-up line (refused connections) must not show them either
    finally:
        for proc in (web, worker, embedded):
            proc.kill()
    lines = {name: next(line for line in proc.log().splitlines() if "starting " in line)
             for name, proc in (("web", web), ("worker", worker), ("embedded", embedded))}
    assert lines["web"].endswith("starting web: APP_ENV=testing, database postgresql://127.0.0.1:1, "
                                 "Redis redis://127.0.0.1:1, async mode eventlet"), lines
    assert lines["worker"].endswith("starting worker: APP_ENV=testing, database postgresql://127.0.0.1:1, "
                                    "Redis redis://127.0.0.1:1, async mode threads"), lines
    assert lines["embedded"].endswith("Redis none (embedded), async mode eventlet"), lines
    for proc in (web, worker):
        assert secret_db not in proc.log() and secret_redis not in proc.log()


def test_a_failing_job_logs_one_line_without_rq_s_traceback(production, own_sqlite):
    url_db, path = own_sqlite
    with sqlite3.connect(path) as conn:  # every presence job fails: its table is gone
        conn.execute("DROP TABLE typing_indicators")
    worker = production.worker(DATABASE_URL=url_db, PROCESS_BEAT_SECONDS=1)
    failure = "job presence_app.jobs.expire_stale_typing failed: the database is unavailable"
    wait_for(lambda: failure in worker.log(), timeout=30, message="the failing job's line")
    worker.stop()
    lines = worker.log().splitlines()
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARNING|ERROR) ", line) for line in lines), lines
    assert "Traceback" not in worker.log()
    assert not [line for line in lines if "rq.worker" in line and "expire_stale_typing" in line], lines


def test_an_unknown_log_format_is_refused_at_start():
    with pytest.raises(ConfigError, match="LOG_FORMAT must be one of text, json"):
        create_app({"JWT_SECRET_KEY": SECRET, "APP_ENV": "testing", "LOG_FORMAT": "xml"})
