"""Health of the process and of what it depends on."""
from flask import current_app
from redis import Redis
from sqlalchemy import text

from ..extensions import db

DRAINING = "presence_draining"


def check():
    """Ping the database and, when configured, Redis; report each."""
    report = {"status": "ok", "database": _probe(lambda: db.session.execute(text("SELECT 1")))}
    db.session.rollback()
    url = current_app.config["REDIS_URL"]
    report["redis"] = _probe(lambda: _redis(url).ping()) if url else "not configured"
    report["mode"] = "production" if url else "embedded"
    if current_app.extensions.get(DRAINING):
        report["status"] = "draining"  # stopping: a balancer's check takes this process out of rotation
    elif report["database"] == "error":
        report["status"] = "error"
    elif report["redis"] == "error":
        report["status"] = "degraded"  # REST still serves from the database; cross-process events wait
    return report


def _redis(url):
    # One client (and pool) per app, not one per health call.
    if "presence_health_redis" not in current_app.extensions:
        current_app.extensions["presence_health_redis"] = Redis.from_url(
            url, socket_timeout=2, **current_app.config["REDIS_OPTIONS"])
    return current_app.extensions["presence_health_redis"]


def _probe(call):
    try:
        call()
        return "ok"
    except Exception as exc:  # noqa: BLE001 - health reports any failure, never raises
        current_app.logger.warning("health probe failed: %s", str(exc).strip().splitlines()[0] if str(exc) else exc)
        return "error"
