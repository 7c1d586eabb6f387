"""Shared set-up of the benchmarks: a migrated throwaway database and seeded agents."""
import os
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, event, insert, text  # noqa: E402

from presence_app import create_app  # noqa: E402
from presence_app.config import database_url  # noqa: E402
from presence_app.extensions import db  # noqa: E402
from presence_app.models import Agent, Presence  # noqa: E402

SECRET = "bench-secret-that-is-long-enough-for-hs256-signing"


@contextmanager
def bench_app(**settings):
    """An app on a fresh database: a new PostgreSQL database if DATABASE_URL is set, else SQLite."""
    base = os.environ.get("DATABASE_URL")
    admin, name = None, None
    if base:
        parts = urlsplit(database_url(base))
        admin = create_engine(urlunsplit(parts), isolation_level="AUTOCOMMIT")
        name = f"presence_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = urlunsplit(parts._replace(path=f"/{name}"))
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    env = {"APP_ENV": "testing", "JWT_SECRET_KEY": SECRET, "DATABASE_URL": url, "ASYNC_MODE": "threading",
           "LOG_LEVEL": "WARNING", **{k: str(v) for k, v in settings.items()}}
    app = create_app(env)
    try:
        with app.app_context():
            upgrade()
            yield app
            db.session.remove()
            db.engine.dispose()
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()


def seed(count, start=1, org="default", **presence):
    """Insert `count` agents with presence rows in bulk; return their ids."""
    ids = list(range(start, start + count))
    db.session.execute(insert(Agent), [{"id": i, "org": org, "name": f"Agent {i}", "role": "agent"} for i in ids])
    db.session.execute(insert(Presence), [dict({"agent_id": i, "org": org, "name": f"Agent {i}"}, **presence)
                                          for i in ids])
    db.session.commit()
    return ids


def best_of(repeats, func):
    """Best wall time of `repeats` runs of func() (the least disturbed by a noisy machine)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best


@contextmanager
def count_statements():
    """Count SQL statements sent while the block runs: counter["n"]."""
    counter = {"n": 0}

    def _count(_conn, _cursor, statement, *_args):
        # SQLite's explicit BEGIN IMMEDIATE is transaction control, as psycopg2's implicit BEGIN.
        if not statement.lstrip().upper().startswith("BEGIN"):
            counter["n"] += 1

    event.listen(db.engine, "before_cursor_execute", _count)
    try:
        yield counter
    finally:
        event.remove(db.engine, "before_cursor_execute", _count)


def dialect():
    """Name of the database the benchmark runs on."""
    return db.engine.dialect.name
