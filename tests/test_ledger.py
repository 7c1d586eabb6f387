"""The ledger's lifecycle: months created ahead and dropped whole past retention (PostgreSQL), batches (SQLite)."""
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from presence_app import jobs
from presence_app.dbtime import now
from presence_app.extensions import db
from presence_app.models import ReportDay
from presence_app.services import ledger

from .inprocess import record, run_job

RETENTION = 400


def _now(app):
    with app.app_context():
        return db.session.scalar(select(now()))


def _seqs(app, agent_id):
    with app.app_context():
        return db.session.scalars(text("SELECT seq FROM presence_changes WHERE agent_id = :a ORDER BY seq"),
                                  {"a": agent_id}).all()


def _postgres(app):
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def _ages(app, moment, days):
    """Agent 5's ledger rows, one `days` ago each, in partitions made for them; then a report day of the oldest."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            ledger.ensure_partitions(moment - timedelta(days=max(days)), moment)
    record(app, 5, [(moment - timedelta(days=age), "offline", "online", True, "manual", None)
                    for age in sorted(days, reverse=True)])
    with app.app_context():
        day = (moment - timedelta(days=max(days))).replace(hour=0, minute=0, second=0, microsecond=0)
        db.session.add(ReportDay(agent_id=5, org="default", day=day, status="online", connected=True, seconds=60.0))
        db.session.commit()


def test_keep_ledger_is_a_periodic_job():
    assert "keep_ledger" in {job.name for job in jobs.PERIODIC}


def test_keep_ledger_drops_whole_months_past_retention_keeps_the_rest_and_report_days(make_app):
    app = make_app(LEDGER_RETENTION_DAYS=RETENTION)
    moment = _now(app)
    ages = (RETENTION + 70, RETENTION + 40, RETENTION - 30, 10, 0)
    _ages(app, moment, ages)
    result = run_job(app, jobs.keep_ledger)
    cutoff = moment - timedelta(days=RETENTION)
    assert _seqs(app, 5) == [3, 4, 5], "the two changes past retention are gone (their months, on PostgreSQL)"
    with app.app_context():
        assert db.session.scalar(select(ReportDay.seconds).where(ReportDay.agent_id == 5)) == 60.0
    if _postgres(app):
        oldest = ledger.partition_name(ledger.month_start(moment - timedelta(days=ages[0])))
        assert oldest in result["dropped"]
        with app.app_context():
            months = ledger.partitions()
        month = ledger.month_start(moment)
        ahead = [month, ledger.next_month(month), ledger.next_month(ledger.next_month(month))]
        assert set(ahead) <= set(months), "this month and the next two exist"
        assert all(next_month > cutoff for next_month in map(ledger.next_month, months)), "no month past retention"
    else:
        assert result == {"deleted": 2}


def test_on_sqlite_keep_ledger_deletes_in_batches_until_nothing_is_past_retention(make_app):
    app = make_app(LEDGER_RETENTION_DAYS=RETENTION)
    if _postgres(app):
        pytest.skip("SQLite keeps one table; PostgreSQL drops partitions (above)")
    moment = _now(app)
    old = ledger.DELETE_BATCH + 50
    record(app, 6, [(moment - timedelta(days=RETENTION + 1, seconds=n), "offline", "online", True, "manual", None)
                    for n in range(old, 0, -1)] + [(moment, "online", "busy", True, "manual", None)])
    assert run_job(app, jobs.keep_ledger) == {"deleted": old}
    assert _seqs(app, 6) == [old + 1]


def test_on_postgresql_a_month_made_later_takes_its_rows_from_the_default_partition(make_app):
    app = make_app()
    if not _postgres(app):
        pytest.skip("partitions are PostgreSQL's")
    far = ledger.month_start(_now(app)) + timedelta(days=400)
    record(app, 7, [(far, "offline", "online", True, "manual", None)])
    where = "SELECT tableoid::regclass::text FROM presence_changes WHERE agent_id = 7"
    with app.app_context():
        assert db.session.scalar(text(where)) == ledger.DEFAULT
        assert ledger.create_partition(ledger.month_start(far))
        assert db.session.scalar(text(where)) == ledger.partition_name(ledger.month_start(far))
        assert not ledger.create_partition(ledger.month_start(far)), "made once"
        db.session.execute(text(f"DROP TABLE {ledger.partition_name(ledger.month_start(far))}"))
        db.session.commit()
