"""The ledger's lifecycle: monthly partitions on PostgreSQL, created ahead and dropped whole past retention.

SQLite keeps one table and deletes rows past retention in batches. Report days (the roll-up) are
kept: long reports read them, not the ledger.
"""
import logging
import re
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, text

from ..dbtime import now
from ..extensions import db

log = logging.getLogger(__name__)
LEDGER = "presence_changes"
DEFAULT = f"{LEDGER}_default"  # rows outside every month: an import of old history, a clock far off
MONTH = re.compile(rf"^{LEDGER}_y(\d{{4}})m(\d\d)$")
MONTHS_AHEAD = 2  # this month and the next two exist at every pass: a missed pass or two costs nothing
DELETE_BATCH = 10_000  # rows a SQLite batch deletes (one short write lock each)


def is_partition(name):
    """True for the name of one of the ledger's partitions (migrations leave them out of the models)."""
    return bool(MONTH.match(name)) or name == DEFAULT


def schema_filters(dialect):
    """Alembic's include_name and include_object for autogenerate (migrations/env.py): the ledger as the models say.

    Its partitions are the ledger's; on PostgreSQL its unique key carries the partition key `at`.
    """
    def include_name(name, type_, _parents):
        return not (type_ == "table" and is_partition(name))

    def include_object(_obj, name, type_, _reflected, _compare_to):
        return not (dialect == "postgresql" and type_ == "unique_constraint" and name == f"uq_{LEDGER}_agent_seq")

    return {"include_name": include_name, "include_object": include_object}


def month_start(moment):
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(month):
    return month_start(month + timedelta(days=32))


def partition_name(month):
    return f"{LEDGER}_y{month:%Y}m{month:%m}"


def keep(moment=None):
    """Create the coming months' partitions and drop those past LEDGER_RETENTION_DAYS (SQLite: delete rows)."""
    moment = moment or db.session.scalar(select(now()))
    cutoff = moment - timedelta(days=current_app.config["LEDGER_RETENTION_DAYS"])
    if db.engine.dialect.name != "postgresql":
        return {"deleted": _delete_before(cutoff)}
    month, created = month_start(moment), []
    for _ in range(MONTHS_AHEAD + 1):
        if create_partition(month):
            created.append(partition_name(month))
        month = next_month(month)
    return {"created": created, "dropped": drop_before(cutoff)}


def partitions():
    """{month start: partition name} of the ledger's monthly partitions."""
    names = db.session.scalars(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:ledger AS regclass)"), {"ledger": LEDGER}).all()
    return {datetime(int(m[1]), int(m[2]), 1): name for name in names if (m := MONTH.match(name))}


def create_partition(month):
    """Make `month`'s partition if missing, moving in any rows the default partition holds for it; True if made."""
    if month in partitions():
        db.session.commit()
        return False
    name, bounds = partition_name(month), {"lo": month, "hi": next_month(month)}
    # Built aside and attached: a plain CREATE ... PARTITION OF fails when the default partition holds
    # rows of that month (history imported early, a clock that ran ahead).
    db.session.execute(text(f"CREATE TABLE {name} (LIKE {LEDGER} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    db.session.execute(text(f"WITH moved AS (DELETE FROM {DEFAULT} WHERE at >= :lo AND at < :hi RETURNING *) "
                            f"INSERT INTO {name} SELECT * FROM moved"), bounds)
    db.session.execute(text(f"ALTER TABLE {LEDGER} ATTACH PARTITION {name} FOR VALUES FROM "
                            f"('{bounds['lo']:%Y-%m-%d}') TO ('{bounds['hi']:%Y-%m-%d}')"))
    db.session.commit()
    log.info("ledger: partition %s created", name)
    return True


def ensure_partitions(since, until):
    """Partitions for every month from `since` to `until` (a bench or an import of history writes there)."""
    month = month_start(since)
    while month <= until:
        create_partition(month)
        month = next_month(month)


def drop_before(cutoff):
    """Drop each monthly partition that ends at or before `cutoff`, and the default's rows before it."""
    dropped = []
    for month, name in sorted(partitions().items()):
        if next_month(month) <= cutoff:
            # The drop locks the whole ledger for an instant; behind a long report it would queue every
            # change after it: give up after a moment instead, and try again at the next pass.
            db.session.execute(text("SET LOCAL lock_timeout = '5s'"))
            db.session.execute(text(f"DROP TABLE {name}"))  # the whole month at once: no row is read
            db.session.commit()
            dropped.append(name)
            log.info("ledger: partition %s dropped (older than %s)", name, cutoff)
    db.session.execute(text(f"DELETE FROM {DEFAULT} WHERE at < :cutoff"), {"cutoff": cutoff})
    db.session.commit()
    return dropped


def _delete_before(cutoff):
    deleted = 0
    while True:
        done = db.session.execute(text(
            f"DELETE FROM {LEDGER} WHERE id IN (SELECT id FROM {LEDGER} WHERE at < :cutoff LIMIT :n)"),
            {"cutoff": cutoff, "n": DELETE_BATCH}).rowcount
        db.session.commit()
        deleted += done
        if done < DELETE_BATCH:
            return deleted
