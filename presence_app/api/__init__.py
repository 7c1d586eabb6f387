"""REST blueprints under /api/v1 and the authentication that guards them."""
from flask import Blueprint, current_app, g, request
from flask_jwt_extended import get_jwt, verify_jwt_in_request

from ..extensions import limiter
from ..services.identity import ensure_agent, from_claims, refuse_query_token

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC = {"api.issue_token"}
# Only the API is limited (the console's static files and /health are not); read per request,
# so each app's API_RATE_LIMIT holds.
limiter.limit(lambda: current_app.config["API_RATE_LIMIT"])(bp)


@bp.before_request
def authenticate():
    """Every endpoint but login needs a valid bearer token; the caller lands in g.identity."""
    if request.endpoint in PUBLIC:
        return
    refuse_query_token(request.args, "send Authorization: Bearer <token>")
    verify_jwt_in_request()
    identity = from_claims(get_jwt())
    ensure_agent(identity)
    g.identity = identity


def caller():
    """The authenticated caller of this request."""
    return g.identity


from . import auth, health, presence, reason_codes, reports, typing  # noqa: E402,F401  (routes register on bp)
