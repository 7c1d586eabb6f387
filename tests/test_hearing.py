"""No false offline: a timeout counts only from the moment the service could hear agents again.

These cases move the service's own clock rows (the sweep's last run, a web process's last beat)
into the past, as an outage would have left them, and check what the next sweep does.
"""
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from presence_app import jobs
from presence_app.extensions import db
from presence_app.models import Hearing
from presence_app.services import connections, hearing

from .inprocess import ledger, run_job, set_status, silence

SWEEP = 60  # PRESENCE_SWEEP_SECONDS of the default app


def ago(seconds):
    return datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=seconds)


def sql(app, statement, **params):
    with app.app_context():
        db.session.execute(text(statement), params)
        db.session.commit()


def heard_since(app):
    with app.app_context():
        row = db.session.get(Hearing, 1)
        return row.heard_since if row else hearing.EPOCH


def test_a_sweep_on_time_times_out_the_silent(app, client):
    set_status(client, 1, "busy")
    run_job(app, jobs.check_agent_presence_timeout)  # the sweep has been running
    silence(app, 1)
    assert run_job(app, jobs.check_agent_presence_timeout) == 1


def test_after_a_gap_in_the_sweeps_nobody_is_timed_out_until_a_full_timeout_passes(app, client):
    set_status(client, 1, "busy")
    set_status(client, 2, "online")
    run_job(app, jobs.check_agent_presence_timeout)
    sql(app, "UPDATE hearing SET swept_at = :t", t=ago(SWEEP + 30))  # the worker was away for a while
    silence(app, 1), silence(app, 2)  # their heartbeats went unheard meanwhile

    assert run_job(app, jobs.check_agent_presence_timeout) == 0
    assert heard_since(app) > ago(5)
    assert run_job(app, jobs.check_agent_presence_timeout) == 0  # the next sweep still counts from then

    sql(app, "UPDATE hearing SET heard_since = :t", t=ago(app.config["PRESENCE_TIMEOUT_SECONDS"] + 1))
    assert run_job(app, jobs.check_agent_presence_timeout) == 2  # a full timeout heard, still silent
    assert [row[5] for row in ledger(app, 1)] == ["manual", "timeout"]


def test_a_sweep_late_by_less_than_its_slack_is_no_gap(app, client):
    set_status(client, 1, "busy")
    run_job(app, jobs.check_agent_presence_timeout)
    sql(app, "UPDATE hearing SET swept_at = :t", t=ago(SWEEP + 3))
    silence(app, 1)
    assert run_job(app, jobs.check_agent_presence_timeout) == 1


def test_a_late_beat_of_a_web_process_counts_timeouts_from_now(app, client):
    set_status(client, 1, "busy")
    with app.app_context():
        connections.register_process("web-a")
    run_job(app, jobs.check_agent_presence_timeout)
    sql(app, "UPDATE web_processes SET beat_at = :t", t=ago(app.config["PROCESS_DEAD_SECONDS"] + 5))
    silence(app, 1)

    assert run_job(app, jobs.check_agent_presence_timeout) == 0, "a process that may be deaf holds the sweep"
    with app.app_context():
        connections.beat("web-a", lambda: ({}, set()))  # it beats again, late: it heard nobody meanwhile
    assert heard_since(app) > ago(5)
    assert run_job(app, jobs.check_agent_presence_timeout) == 0


def test_a_beat_on_time_changes_nothing(app, client):
    with app.app_context():
        connections.register_process("web-a")
        connections.beat("web-a", lambda: ({}, set()))
    assert heard_since(app) < ago(3600)


def test_right_after_an_outage_a_silent_process_is_not_reaped_yet(app, client, connect):
    sio = connect(1)  # a socket of this (in-process) app's process, registered as process_id
    with app.app_context():
        process = app.config["PROCESS_ID"]
        db.session.execute(text("INSERT INTO web_processes (id, started_at, beat_at) VALUES (:i, :t, :t)"),
                           {"i": process, "t": ago(60)})
        db.session.commit()
        hearing.heard_again()  # the database just came back
        db.session.commit()
    assert run_job(app, connections.reap_dead_processes) == 0
    sql(app, "UPDATE hearing SET heard_since = :t, reaping_since = :t", t=ago(app.config["PROCESS_DEAD_SECONDS"] + 1))
    assert run_job(app, connections.reap_dead_processes) == 1  # still silent after that: dead
    sio.disconnect()


def test_a_gap_in_the_reapers_passes_restarts_its_clock(app, client, connect):
    sio = connect(1)
    beat = app.config["PROCESS_BEAT_SECONDS"]
    with app.app_context():
        db.session.execute(text("INSERT INTO web_processes (id, started_at, beat_at) VALUES (:i, :t, :t)"),
                           {"i": app.config["PROCESS_ID"], "t": ago(60)})
        db.session.commit()
    long_ago = ago(app.config["PROCESS_DEAD_SECONDS"] + 60)
    # The reaper's passes failed too (the database was away): its first pass after is no verdict.
    sql(app, "UPDATE hearing SET heard_since = :t, reaping_since = :t, reaped_at = :r", t=long_ago, r=ago(2 * beat + 1))
    assert run_job(app, connections.reap_dead_processes) == 0
    sql(app, "UPDATE hearing SET reaping_since = :t", t=long_ago)
    assert run_job(app, connections.reap_dead_processes) == 1  # passes without a gap, and still silent: dead
    sio.disconnect()
