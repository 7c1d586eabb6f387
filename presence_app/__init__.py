"""presence_app: agent presence and typing for customer-support consoles."""
import os
import socket
import uuid
import warnings

# dnspython (imported by eventlet and the webhook client's resolver) loads DSA support, which
# cryptography deprecates: a free-text warning on every start, before logging is set up.
warnings.filterwarnings("ignore", message="DSA is deprecated")

from flask import Flask  # noqa: E402
from flask_cors import CORS  # noqa: E402
from sqlalchemy import event  # noqa: E402

# sockets is imported before any SocketIO.init_app: handlers declared while no server exists are kept
# and bound to every server init_app creates; declared later, they would bind to one app's server only.
from . import chat_sockets, cli, config, errors, fanout, http, logs, metrics, notify, sockets, throttle  # noqa: E402, F401
from .extensions import db, jwt, migrate, socketio  # noqa: E402

DBWAIT_MARGIN_SECONDS = 0.5  # past the statement timeout, for the server's own cancel to arrive


class App(Flask):
    """Flask, with the URL map and the request context of http."""

    url_map_class = http.Routes

    def request_context(self, environ):
        """A request context that does not route socket events."""
        return http.Context(self, environ)


def create_app(env=None, role="web"):
    """Build the app: role "web" serves HTTP and Socket.IO, "worker" runs jobs."""
    app = App(__name__, instance_relative_config=True)
    app.config.update(config.from_env(os.environ if env is None else env, app.instance_path))
    app.config["PROCESS_ID"] = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    app.url_map.strict_slashes = False
    app.json.sort_keys = False  # keep the contract's field order
    app.json.ensure_ascii = False  # names like "João" travel as UTF-8
    logs.init_app(app)
    metrics.init_app(app, live_sockets=lambda: len(sockets.live_sockets(app)))
    register_extensions(app)
    bound_database_waits(app)
    register_socketio(app, role)
    http.init_app(app)
    register_blueprints(app)
    errors.init_app(app)
    cli.init_app(app)
    return app


def register_extensions(app):
    """Bind the database, migrations, JWT and rate limiter."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        os.makedirs(app.instance_path, exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    jwt.init_app(app)
    throttle.init_app(app)
    if app.config["CORS_ALLOWED_ORIGINS"]:
        CORS(app, resources={r"/api/*": {"origins": app.config["CORS_ALLOWED_ORIGINS"]}},
             allow_headers=["Authorization", "Content-Type"], max_age=600)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _tune_sqlite(db.engine)


def bound_database_waits(app):
    """Under eventlet (wsgi.py patched psycopg2), no wait for PostgreSQL outlasts its bound (dbwait)."""
    if app.config["ASYNC_MODE"] != "eventlet" or not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    from psycopg2 import extensions

    if extensions.get_wait_callback() is not None:
        from . import dbwait

        seconds = app.config["DB_STATEMENT_TIMEOUT_MS"] / 1000 + DBWAIT_MARGIN_SECONDS
        dbwait.install(seconds, app.config["DB_CONNECT_TIMEOUT_SECONDS"])


def _tune_sqlite(engine):
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # SQLAlchemy issues BEGIN itself, below
        for pragma in ("journal_mode=WAL", "busy_timeout=15000", "foreign_keys=ON", "synchronous=NORMAL"):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Take the write lock up front: several processes share the file, and a
        # deferred transaction that upgrades to a writer fails instead of waiting.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def register_socketio(app, role):
    """Bind Socket.IO: a full server for web, a write-only emitter through Redis for the worker."""
    url = app.config["REDIS_URL"]
    if role == "worker":
        if not url:
            raise config.ConfigError("the worker needs REDIS_URL (embedded mode runs jobs in the web process)")
        manager = fanout.RedisQueue(url, app.config["REDIS_OPTIONS"], write_only=True)
        socketio.init_app(None, client_manager=manager, async_mode="threading")
        return
    if app.config["ASYNC_MODE"] == "eventlet":
        # Known and documented (docs/design.md, "Async mode"); the banner would greet every command.
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    manager = fanout.RedisQueue(url, app.config["REDIS_OPTIONS"]) if url else fanout.LocalQueue()
    notify.init_app(app, manager)
    socketio.init_app(app, client_manager=manager, async_mode=app.config["ASYNC_MODE"],
                      cors_allowed_origins=app.config["CORS_ALLOWED_ORIGINS"],
                      max_http_buffer_size=config.MAX_MESSAGE_BYTES, logger=False, engineio_logger=False,
                      # A socket's events run one after another in its own reader, which yields
                      # between them (sockets.client_event): a flooding socket queues behind itself.
                      async_handlers=False, json=sockets.PacketJSON)


def register_blueprints(app):
    """Mount the REST API, the health check and the console page."""
    from .api import bp as api_bp
    from .api.health import health_bp
    from .console import console_bp
    app.register_blueprint(api_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(console_bp)
