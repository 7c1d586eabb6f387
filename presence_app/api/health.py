"""GET /health: liveness without auth, and whether the database and Redis answer."""
from flask import Blueprint

from ..openapi import documented
from ..services.health import check
from ..shapes.base import Health

health_bp = Blueprint("health", __name__)


@health_bp.get("/health")
@documented(Health, public=True, answers={503: Health})
def health():
    """Say whether the process, its database and (when used) Redis answer; 503 while it drains."""
    report = check()
    return report, 503 if report["status"] in ("error", "draining") else 200
