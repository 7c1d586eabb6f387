"""Logging: text or JSON lines on stderr, a request id on every request and its log lines, the start-up line."""
import itertools
import json
import logging
import os
import re
import time
from urllib.parse import urlsplit

from flask import has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_KEY = "presence.request_id"  # where the id lives in the WSGI environ
# A proxy's id is kept when it is short and plain; anything else (spaces, quotes, newlines) would
# let a client write into our log lines, so it is replaced by one of ours.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
# Made ids: this process's random tag and a serial, unique across processes, cheaper than random bytes each.
_PROCESS_TAG, _serial = os.urandom(6).hex(), itertools.count(1)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s"


class RequestContext(logging.Filter):
    """Stamp each record with the id of the request it was logged in, if any."""

    def filter(self, record):
        record.request_id = request.environ.get(REQUEST_ID_KEY) if has_request_context() else None
        record.request_tag = f" [{record.request_id}]" if record.request_id else ""
        return True


class JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request_id, exception."""

    def format(self, record):
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if getattr(record, "request_id", None):
            entry["request_id"] = record.request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def init_app(app):
    """Log to stderr at LOG_LEVEL in LOG_FORMAT; give every request an id, echoed in X-Request-ID.

    Called before Socket.IO wraps the app: its transport requests are not requests of ours.
    """
    root = logging.getLogger()
    if not root.handlers:  # as logging.basicConfig: a host (pytest, a test runner) that configured logging keeps it
        handler = logging.StreamHandler()
        handler.addFilter(RequestContext())
        root.addHandler(handler)
        root.setLevel(app.config["LOG_LEVEL"])
    for handler in root.handlers:
        if any(isinstance(f, RequestContext) for f in handler.filters):
            json_lines = app.config["LOG_FORMAT"] == "json"
            handler.setFormatter(JsonLines() if json_lines else logging.Formatter(TEXT_FORMAT))
            logging.captureWarnings(json_lines)  # a warning is a log line too, not free text on stderr
    app.logger  # noqa: B018 - created now, Flask sees the handler above and adds no stderr handler of its own
    app.wsgi_app = request_ids(app.wsgi_app)


def request_ids(wsgi_app):
    """Give each request an id, a sane X-Request-ID or a new one, and echo it in the response."""
    # WSGI, not Flask hooks: plain dict work, about a microsecond on the heartbeat path.
    def middleware(environ, start_response):
        given = environ.get("HTTP_X_REQUEST_ID")
        request_id = given if given and SANE_REQUEST_ID.fullmatch(given) else f"{_PROCESS_TAG}-{next(_serial):x}"
        environ[REQUEST_ID_KEY] = request_id

        def start(status, headers, exc_info=None):
            headers.append((REQUEST_ID_HEADER, request_id))
            return start_response(status, headers, exc_info)

        return wsgi_app(environ, start)

    return middleware


def _where(url):
    """Scheme and host of a URL, never its credentials."""
    parts = urlsplit(url)
    return f"{parts.scheme.split('+')[0]}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def startup(config, role):
    """The line each process starts with: mode, database, Redis and async mode, without secrets."""
    database = config["SQLALCHEMY_DATABASE_URI"]
    db_where = "sqlite (file)" if database.startswith("sqlite") else _where(database)
    redis = _where(config["REDIS_URL"]) if config["REDIS_URL"] else "none (embedded)"
    mode = "threads" if role == "worker" else config["ASYNC_MODE"]
    logging.getLogger("presence_app").info("starting %s: APP_ENV=%s, database %s, Redis %s, async mode %s",
                                           role, config["APP_ENV"], db_where, redis, mode)
