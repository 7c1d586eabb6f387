"""Prometheus metrics of this process: the families, the counting helpers, and the two ways they are served.

Counting happens where the rules live (services, notify, throttle, jobs); views only get timed.
Label children are cached in plain dicts: the heartbeat path pays a dict lookup, never a
`labels()` call, whose argument checks and lock cost several times more.
"""
import functools
import hmac
import json
import socketserver
import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from flask import Blueprint, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    make_wsgi_app,
)

from .errors import Forbidden, Unauthorized, envelope

disable_created_metrics()  # a *_created series per child doubles the scrape and says nothing we need
TRANSITIONS = Counter("presence_transitions", "Committed presence changes, by reason", ["reason"])
EVENTS = Counter("presence_events_emitted", "Socket.IO events emitted by this process, by event", ["event"])
LIVE_SOCKETS = Gauge("presence_live_sockets", "Sockets connected to this web process")
HEARTBEATS = Counter("presence_heartbeats", "Heartbeats received, by transport", ["transport"])
SWEEPS = Counter("presence_sweep_runs", "Periodic job runs, by job and outcome", ["job", "outcome"])
SWEEP_SECONDS = Histogram("presence_sweep_duration_seconds", "Periodic job run time, by job", ["job"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
TYPING_EXPIRIES = Counter("presence_typing_expiries", "Typing indicators stopped by the stale-typing sweep")
REQUEST_SECONDS = Histogram("presence_request_duration_seconds", "HTTP request time, by Flask endpoint and status",
                            ["endpoint", "status"],
                            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
WEBHOOKS = Counter("presence_webhook_deliveries", "Webhook delivery attempts, by outcome", ["outcome"])
REFUSALS = Counter("presence_rate_limit_refusals", "Requests and socket events refused by a rate limit, by scope",
                   ["scope"])

STARTED_KEY = "presence.started"
# Every status the service answers, as a label; anything else is "other" (labels stay bounded).
STATUS_LABELS = {code: str(code) for code in (200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 405, 409, 410,
                                              411, 413, 415, 429, 500, 502, 503)}
_children = {}
metrics_bp = Blueprint("metrics", __name__)


def child(family, *labels):
    """The cached child of `family` for these label values (label sets are small and bounded)."""
    found = _children.get((family, labels))
    if found is None:
        found = _children[(family, labels)] = family.labels(*labels)
    return found


for _transport in ("rest", "socket"):
    child(HEARTBEATS, _transport)  # known label values are scraped as 0 before their first count
for _scope in ("api", "login", "socket"):
    child(REFUSALS, _scope)
for _outcome in ("delivered", "failed"):
    child(WEBHOOKS, _outcome)


def transitions(rows):
    """Count committed presence changes by their reason."""
    for row in rows:
        child(TRANSITIONS, row.change_reason).inc()


def emitted(event):
    """Count one emit of `event`."""
    child(EVENTS, event).inc()


def heartbeat(transport):
    """Count one heartbeat received over `transport` (rest or socket)."""
    child(HEARTBEATS, transport).inc()


def refused(scope):
    """Count one rate-limit refusal of `scope` (api, login, socket)."""
    child(REFUSALS, scope).inc()


def webhook_attempt(ok):
    """Count one webhook delivery attempt (delivered: a 2xx answer)."""
    child(WEBHOOKS, "delivered" if ok else "failed").inc()


def typing_expired(count):
    """Count typing indicators the sweep stopped."""
    TYPING_EXPIRIES.inc(count)


def timed_job(func):
    """Decorate a periodic job: count its runs (ok or failed) and time them, under its name."""
    name = func.__name__

    @functools.wraps(func)
    def run():
        started = time.perf_counter()
        try:
            result = func()
        except Exception:
            SWEEPS.labels(name, "failed").inc()
            raise
        finally:
            SWEEP_SECONDS.labels(name).observe(time.perf_counter() - started)
        SWEEPS.labels(name, "ok").inc()
        return result

    return run


def allowed(config, authorization):
    """None if a scrape with this Authorization header may read the metrics, else the refusal."""
    token = config["METRICS_TOKEN"]
    if token is None:
        if config["APP_ENV"] == "production":
            return Forbidden("metrics are off in production until METRICS_TOKEN is set")
        return None
    given = (authorization or "").encode("utf-8", "replace")
    if not hmac.compare_digest(given, b"Bearer " + token.encode()):
        return Unauthorized("metrics need Authorization: Bearer <METRICS_TOKEN>")
    return None


@metrics_bp.get("/metrics")
def scrape():
    """This process's metrics, in Prometheus text format."""
    refusal = allowed(current_app.config, request.headers.get("Authorization"))
    if refusal is not None:
        raise refusal
    return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def init_app(app, live_sockets):
    """Serve /metrics, time every request by endpoint, read the live-socket count from `live_sockets()`.

    Called before Socket.IO wraps the app, so its long polls and WebSockets are not timed as requests.
    """
    app.register_blueprint(metrics_bp)
    LIVE_SOCKETS.set_function(live_sockets)
    app.wsgi_app = started_at(app.wsgi_app)
    app.after_request(observe_request)


def started_at(wsgi_app):
    """Note when each request came in (WSGI: plain dict work, no context-local lookups)."""
    def middleware(environ, start_response):
        environ[STARTED_KEY] = time.perf_counter()
        return wsgi_app(environ, start_response)

    return middleware


def observe_request(response):
    """Time the request into REQUEST_SECONDS under its Flask endpoint ("unmatched" for a 404) and status."""
    handled = request._get_current_object()  # one context lookup, then plain attributes
    started = handled.environ.get(STARTED_KEY)
    if started is not None:
        child(REQUEST_SECONDS, handled.endpoint or "unmatched", STATUS_LABELS.get(response.status_code, "other")
              ).observe(time.perf_counter() - started)
    return response


class CounterLog:
    """One log line of this process's numbers, what each counter moved since the last line.

    In l2met's form (`count#name=n`, `sample#name=n`), which Heroku's log-based metrics read: on a
    platform whose router sends /metrics to a random dyno, and whose workers take no traffic, this is
    how each process reports itself (METRICS_LOG_SECONDS).
    """

    def __init__(self, source):
        self.source, self.last = source, {}

    def line(self):
        """The next line: counts moved since the previous one, and the live sockets now."""
        totals = _totals()
        counts = " ".join(f"count#{name}={totals[name] - self.last.get(name, 0):g}" for name in totals)
        self.last = totals
        return f"metrics source={self.source} {counts} sample#presence.live_sockets={_value(LIVE_SOCKETS):g}"


def _totals():
    totals = dict.fromkeys(("presence.requests.2xx", "presence.requests.4xx", "presence.requests.429",
                            "presence.requests.5xx", "presence.requests.503"), 0.0)
    for sample in _samples(REQUEST_SECONDS, "_count"):
        status = sample.labels["status"]
        group = f"presence.requests.{status[0]}xx" if status[0] in "245" else None
        if group:
            totals[group] += sample.value
        if status in ("429", "503"):
            totals[f"presence.requests.{status}"] += sample.value
    for name, family in (("presence.heartbeats", HEARTBEATS), ("presence.transitions", TRANSITIONS),
                         ("presence.events_emitted", EVENTS), ("presence.rate_limit_refusals", REFUSALS)):
        totals[name] = sum(sample.value for sample in _samples(family, "_total"))
    totals["presence.transitions.timeout"] = sum(
        s.value for s in _samples(TRANSITIONS, "_total") if s.labels["reason"] == "timeout")
    totals["presence.job_failures"] = sum(
        s.value for s in _samples(SWEEPS, "_total") if s.labels["outcome"] == "failed")
    return totals


def _samples(family, suffix):
    return [sample for metric in family.collect() for sample in metric.samples if sample.name.endswith(suffix)]


def _value(gauge):
    return next((sample.value for metric in gauge.collect() for sample in metric.samples), 0.0)


class _Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *_args):
        pass  # a scrape every few seconds is not news


def serve_worker_metrics(config):
    """The worker's /metrics on METRICS_PORT, in a daemon thread, with the same token rule as the web."""
    exposition = make_wsgi_app()

    def app(environ, start_response):
        refusal = allowed(config, environ.get("HTTP_AUTHORIZATION"))
        if refusal is None:
            return exposition(environ, start_response)
        start_response(f"{refusal.status} {refusal.code}", [("Content-Type", "application/json")])
        return [json.dumps(envelope(refusal.code, refusal.message)).encode()]

    server = make_server(config["HOST"], config["METRICS_PORT"], app, server_class=_Server, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
