"""REST blueprints under /api/v1 and the authentication that guards them."""
from flask import Blueprint, g, request
from flask_jwt_extended import get_jwt, verify_jwt_in_request

from ..errors import Unauthorized
from ..services.identity import ensure_agent, from_claims

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC = {"api.issue_token"}
QUERY_TOKEN_NAMES = ("token", "access_token", "jwt", "auth")


@bp.before_request
def authenticate():
    """Every endpoint but login needs a valid bearer token; the caller lands in g.identity."""
    if request.endpoint in PUBLIC:
        return
    if any(name in request.args for name in QUERY_TOKEN_NAMES):
        raise Unauthorized("tokens in the query string are refused; send Authorization: Bearer <token>")
    verify_jwt_in_request()
    identity = from_claims(get_jwt())
    ensure_agent(identity)
    g.identity = identity


def caller():
    """The authenticated caller of this request."""
    return g.identity


from . import auth, health, presence, typing  # noqa: E402,F401  (routes register on bp)
