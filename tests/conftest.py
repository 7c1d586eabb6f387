"""Fixtures: a migrated real database (SQLite or PostgreSQL), apps, clients, Redis, processes."""
import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from presence_app import create_app, notify
from presence_app.config import database_url as sa_url
from presence_app.extensions import db, socketio

from .clients import Clients, Database, Observer
from .support import SECRET, service_env, start_redis, start_web, start_worker, token, wait_for

TABLES = ("webhook_attempts", "webhook_messages", "webhook_events", "webhook_endpoints", "typing_indicators",
          "connections", "web_processes", "presence_changes", "report_days", "chat_assignments", "presence",
          "agent_teams", "agents", "reason_codes", "hearing")


def _is_postgres(url):
    return url.startswith(("postgres://", "postgresql"))


def _admin_url(url):
    parts = urlsplit(sa_url(url))
    return parts, create_engine(urlunsplit(parts), isolation_level="AUTOCOMMIT")


def pytest_collection_modifyitems(items):
    """With ONCE_PER_MACHINE=1 (CI's second pass), skip tests on a PostgreSQL of their own: DATABASE_URL is moot."""
    if os.environ.get("ONCE_PER_MACHINE") != "1":
        return
    skip = pytest.mark.skip(reason="on a PostgreSQL cluster of its own, whatever DATABASE_URL says: once per CI run")
    for item in items:
        if "own_postgres" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


def pytest_report_header():
    url = os.environ.get("DATABASE_URL")
    return f"database: {'PostgreSQL (a fresh database on ' + urlsplit(url).hostname + ')' if url else 'SQLite'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A fresh database for the session: a new PostgreSQL database if DATABASE_URL is set, else SQLite."""
    base = os.environ.get("DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'presence.db'}"
        return
    assert _is_postgres(base), "the suite runs on SQLite (unset) or PostgreSQL (DATABASE_URL)"
    parts, admin = _admin_url(base)
    name = f"presence_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def base_env(database_url):
    """Settings every test app and process starts from."""
    # A short batch window: sockets connecting one after another in a test wait less for their snapshot.
    return {"APP_ENV": "testing", "JWT_SECRET_KEY": SECRET, "DATABASE_URL": database_url,
            "ASYNC_MODE": "threading", "LOG_LEVEL": "WARNING", "PRESENCE_BATCH_MS": "50"}


@pytest.fixture(scope="session")
def migrated(base_env):
    """The session database, upgraded with the project's migrations."""
    app = create_app(base_env)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return base_env["DATABASE_URL"]


@pytest.fixture
def fresh_db(migrated, base_env):
    """Empty every table after the test, so tests never see each other's rows."""
    yield migrated
    engine = create_engine(sa_url(migrated))
    with engine.begin() as conn:
        # DELETE, children first: on tables this small it beats TRUNCATE's catalogue work.
        for table in TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("UPDATE report_rollup SET through = NULL"))  # its one row is the migration's
    engine.dispose()


@pytest.fixture
def make_app(fresh_db, base_env):
    """Build in-process apps (embedded mode, threading) with settings overridden."""
    apps = []

    def factory(**settings):
        app = create_app(dict(base_env, **{k: str(v) for k, v in settings.items()}))
        apps.append(app)
        return app

    yield factory
    for app in apps:
        notify.stop(app)  # its counts pushes would outlive the test
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    """The app with default settings."""
    return make_app()


@pytest.fixture
def client(app):
    """Flask's HTTP test client."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """Flask's CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def connect(app, client):
    """Open Flask-SocketIO test clients: connect(sub, **claims) -> client; they end with the test's app."""

    def factory(sub, auth=None, **claims):
        sio = socketio.test_client(app, auth=auth if auth is not None else {"token": token(sub, **claims)},
                                   flask_test_client=client)
        if sio.is_connected():  # sockets connecting together share a snapshot, sent within PRESENCE_BATCH_MS
            wait_for(lambda: any(m["name"] == "presence_state" for m in list(sio.queue)), timeout=5,
                     interval=0.01, message="presence_state")
        return sio

    # No disconnect at the end: it would start a grace task that reaches the database after the
    # app's engine is disposed, leaving a pooled connection open for the rest of the session (the
    # Engine.IO service thread keeps the app alive); a full PostgreSQL run then ran out of slots.
    return factory


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real Redis: TEST_REDIS_URL if given, else a throwaway redis-server."""
    given = os.environ.get("TEST_REDIS_URL")
    if given:
        yield given
        return
    proc, url = start_redis(tmp_path_factory.mktemp("redis"))
    yield url
    proc.kill()


@pytest.fixture
def clean_redis(redis_url):
    """The Redis database, emptied before and after the test."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield redis_url
    client.flushdb()
    client.close()


class Processes:
    """Real web and worker processes of one test, all stopped at its end."""

    def __init__(self, tmp_path, env):
        self.tmp_path, self.env, self.procs = tmp_path, env, []

    def web(self, name="web", port=None, **settings):
        proc, url = start_web(self.tmp_path, service_env(self.env, **settings), name=name, port=port)
        self.procs.append(proc)
        return proc, url

    def worker(self, name="worker", **settings):
        proc = start_worker(self.tmp_path, service_env(self.env, **settings), name=name)
        self.procs.append(proc)
        return proc

    def cluster(self, **settings):
        """Two web processes, web1 and web2, and a worker, all with `settings`: ((proc, url), (proc, url))."""
        webs = self.web(name="web1", **settings), self.web(name="web2", **settings)
        self.worker(**settings)
        return webs

    def stop_all(self):
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            print(f"----- {proc.log_path}\n{proc.log()[-4000:]}")


@pytest.fixture
def processes(tmp_path, fresh_db, base_env):
    """Start real servers: processes.web(**env) -> (proc, url); processes.worker(**env) -> proc."""
    procs = Processes(tmp_path, dict(base_env, ASYNC_MODE="eventlet", LOG_LEVEL="INFO"))
    yield procs
    procs.stop_all()


@pytest.fixture
def production(processes, clean_redis):
    """Processes in production mode: every web and worker shares the test Redis."""
    processes.env["REDIS_URL"] = clean_redis
    return processes


@pytest.fixture
def clients(tmp_path):
    """Socket.IO clients of one test (Python and Node), closed before its processes stop."""
    opened = Clients(tmp_path)
    yield opened
    opened.close_all()


@pytest.fixture
def observers():
    """Open Observers: observe(url, sub, ...) -> Observer, all closed at the end."""
    opened = []

    def observe(url, sub, chats=(), **claims):
        opened.append(Observer(url, sub, chats, **claims))
        return opened[-1]

    yield observe
    for observer in opened:
        observer.close()


@pytest.fixture
def database(fresh_db):
    """A read-only look at the test database from the test process."""
    db = Database(fresh_db)
    yield db
    db.engine.dispose()
