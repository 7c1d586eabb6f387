"""Migrations: an empty database upgrades, downgrades to nothing and upgrades again; the schema is the models'."""
import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from presence_app import create_app
from presence_app.config import database_url as sa_url
from presence_app.extensions import db
from presence_app.services.ledger import is_partition, schema_filters

from .support import SECRET

TABLES = {"agents", "presence", "presence_changes", "connections", "web_processes", "typing_indicators",
          "reason_codes", "hearing", "report_days", "report_rollup", "agent_teams", "chat_assignments",
          "webhook_endpoints", "webhook_events", "webhook_messages", "webhook_attempts"}
HEAD = ["0009"]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request, tmp_path):
    """An app on a database with nothing in it: a fresh SQLite file, or a new PostgreSQL database."""
    url, drop = _empty_database(request.param, tmp_path)
    app = create_app({"APP_ENV": "testing", "JWT_SECRET_KEY": SECRET, "DATABASE_URL": url,
                      "ASYNC_MODE": "threading", "LOG_LEVEL": "WARNING"})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    drop()


def _empty_database(kind, tmp_path):
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}", lambda: None
    base = os.environ.get("DATABASE_URL")
    if not base:
        pytest.skip("PostgreSQL migrations run when DATABASE_URL is set")
    parts = urlsplit(sa_url(base))
    admin = create_engine(urlunsplit(parts), isolation_level="AUTOCOMMIT")
    name = f"presence_migrate_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return urlunsplit(parts._replace(path=f"/{name}")), drop


def flask_db(app, *args):
    result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, f"flask db {' '.join(args)}: {result.output}{result.exception!r}"
    return result


def relations(app):
    """Every table, index and sequence in the database, by name."""
    with app.app_context(), db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            query = ("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE n.nspname = current_schema()")
        else:
            query = "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
        return {row[0] for row in conn.execute(text(query))}


def tables(app):
    """Tables by name; the ledger's partitions (PostgreSQL) are the ledger's, not tables of their own."""
    with app.app_context():
        return {name for name in inspect(db.engine).get_table_names() if not is_partition(name)}


def revision(app):
    with app.app_context(), db.engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))]


def test_upgrade_then_downgrade_to_base_then_upgrade_again(empty_app):
    assert relations(empty_app) == set()

    flask_db(empty_app, "upgrade")
    assert tables(empty_app) == TABLES | {"alembic_version"}
    assert revision(empty_app) == HEAD

    flask_db(empty_app, "downgrade", "base")
    assert tables(empty_app) == {"alembic_version"}
    assert {name for name in relations(empty_app) if not name.startswith("alembic_version")} == set()
    assert revision(empty_app) == []

    flask_db(empty_app, "upgrade")
    assert tables(empty_app) == TABLES | {"alembic_version"}
    assert revision(empty_app) == HEAD


def test_the_migrated_schema_matches_the_models(empty_app):
    flask_db(empty_app, "upgrade")
    flask_db(empty_app, "check")  # alembic autogenerate finds nothing to add
    with empty_app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True,
                                                         **schema_filters(conn.dialect.name)})
        assert compare_metadata(context, db.metadata) == []


def test_the_sweeps_indexes_are_partial(empty_app):
    flask_db(empty_app, "upgrade")
    with empty_app.app_context():
        dialect = db.engine.dialect.name
        indexes = {ix["name"]: ix.get("dialect_options", {}) for ix in inspect(db.engine).get_indexes("presence")}
    assert {"ix_presence_org_status", "ix_presence_expiry", "ix_presence_unsettled"} <= set(indexes)
    assert "connections = 0" in str(indexes["ix_presence_expiry"][f"{dialect}_where"])
    assert "connections = 0" in str(indexes["ix_presence_unsettled"][f"{dialect}_where"])


def columns(app, table):
    with app.app_context():
        return {column["name"] for column in inspect(db.engine).get_columns(table)}


def test_0003_keeps_existing_rows_with_no_actor_and_downgrades_to_0002_with_its_data(empty_app):
    flask_db(empty_app, "upgrade", "0002")
    with empty_app.app_context(), db.engine.begin() as conn:
        conn.execute(text("INSERT INTO agents (id, org, name, role, created_at) "
                          "VALUES (5, 'default', 'Ana', 'agent', '2026-01-02 10:00:00')"))
        conn.execute(text("INSERT INTO presence_changes (agent_id, org, seq, from_status, to_status, message, "
                          "websocket_connected, reason, at) VALUES (5, 'default', 1, 'offline', 'online', '', "
                          "false, 'manual', '2026-01-02 10:00:00')"))
    old_ledger = columns(empty_app, "presence_changes")
    old_presence = columns(empty_app, "presence")

    flask_db(empty_app, "upgrade")
    assert revision(empty_app) == HEAD
    with empty_app.app_context(), db.engine.connect() as conn:
        row = conn.execute(text("SELECT seq, reason, actor_id, reason_code FROM presence_changes")).one()
    assert tuple(row) == (1, "manual", None, None)
    assert {"actor_id", "reason_code"} <= columns(empty_app, "presence_changes")
    assert {"reason_code", "status_until", "idle_away", "overrun_announced"} <= columns(empty_app, "presence")

    flask_db(empty_app, "downgrade", "0002")
    assert revision(empty_app) == ["0002"]
    assert columns(empty_app, "presence_changes") == old_ledger
    assert columns(empty_app, "presence") == old_presence
    assert "reason_codes" not in tables(empty_app)
    assert not {name for name in relations(empty_app)} & {"ix_presence_changes_agent_at", "ix_presence_status_until",
                                                          "ix_presence_overrun"}
    with empty_app.app_context(), db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM presence_changes")).scalar() == 1

    flask_db(empty_app, "upgrade")
    assert revision(empty_app) == HEAD
    assert tables(empty_app) == TABLES | {"alembic_version"}


def test_on_postgresql_the_ledgers_seq_index_covers_the_report(empty_app):
    flask_db(empty_app, "upgrade")
    with empty_app.app_context(), db.engine.connect() as conn:
        if db.engine.dialect.name != "postgresql":
            pytest.skip("INCLUDE columns are PostgreSQL's")
        definition = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                                  {"n": "uq_presence_changes_agent_seq"}).scalar()
    # Partitioned by month (0008): a unique key of a partitioned table carries the partition key.
    assert definition.endswith("(agent_id, seq, at) INCLUDE (to_status, websocket_connected, reason_code)")
    flask_db(empty_app, "downgrade", "0006")
    with empty_app.app_context(), db.engine.connect() as conn:
        definition = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                                  {"n": "uq_presence_changes_agent_seq"}).scalar()
    assert definition.endswith("(agent_id, seq) INCLUDE (at, to_status, websocket_connected, reason_code)")
    flask_db(empty_app, "downgrade", "0002")
    with empty_app.app_context(), db.engine.connect() as conn:
        definition = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                                  {"n": "uq_presence_changes_agent_seq"}).scalar()
    assert definition.endswith("(agent_id, seq)")


def test_0008_partitions_the_ledger_by_month_on_postgresql_keeping_its_rows_and_back(empty_app):
    flask_db(empty_app, "upgrade", "0006")
    with empty_app.app_context(), db.engine.begin() as conn:
        postgres = db.engine.dialect.name == "postgresql"
        conn.execute(text("INSERT INTO agents (id, org, name, role, created_at) "
                          "VALUES (5, 'default', 'Ana', 'agent', '2026-01-02 10:00:00')"))
        for seq, at in enumerate(("2026-01-02 10:00:00", "2026-03-31 23:59:59", "2026-04-01 00:00:00"), 1):
            conn.execute(text("INSERT INTO presence_changes (agent_id, org, seq, from_status, to_status, message, "
                              "websocket_connected, reason, at) VALUES (5, 'default', :seq, 'offline', 'online', '', "
                              "false, 'manual', :at)"), {"seq": seq, "at": at})
    flask_db(empty_app, "upgrade")
    parts = {name for name in relations(empty_app) if is_partition(name)}
    if not postgres:
        assert not parts
        with empty_app.app_context(), db.engine.connect() as conn:
            assert conn.execute(text("SELECT seq FROM presence_changes ORDER BY seq")).scalars().all() == [1, 2, 3]
        return
    with empty_app.app_context(), db.engine.connect() as conn:
        rows = conn.execute(text("SELECT seq, tableoid::regclass::text FROM presence_changes ORDER BY seq")).all()
        this = conn.execute(text("SELECT to_char(timezone('utc', now()), '\"y\"YYYY\"m\"MM')")).scalar()
    assert rows == [(1, "presence_changes_y2026m01"), (2, "presence_changes_y2026m03"),
                    (3, "presence_changes_y2026m04")]
    assert {"presence_changes_default", "presence_changes_y2026m01", "presence_changes_y2026m02",
            f"presence_changes_{this}"} <= parts

    flask_db(empty_app, "downgrade", "0006")
    with empty_app.app_context(), db.engine.connect() as conn:
        assert conn.execute(text("SELECT seq FROM presence_changes ORDER BY seq")).scalars().all() == [1, 2, 3]
        assert conn.execute(text("SELECT relkind FROM pg_class WHERE relname = 'presence_changes'")).scalar() == "r"
    assert not {name for name in relations(empty_app) if is_partition(name)}
    flask_db(empty_app, "upgrade")
    assert revision(empty_app) == HEAD
