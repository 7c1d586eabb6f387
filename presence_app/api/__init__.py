"""REST blueprints under /api/v1 and the authentication that guards them."""
from flask import Blueprint, g, request

from .. import throttle
from ..errors import Unauthorized
from ..services.identity import bearer_token, decode, ensure_agent, refuse_query_token

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC = {"api.issue_token", "api.openapi_document", "api.asyncapi_document", "api.docs_page"}


@bp.before_request
def authenticate():
    """Every endpoint but login needs a valid bearer token; the caller lands in g.identity."""
    if request.method == "OPTIONS" or request.endpoint in PUBLIC:
        return  # CORS preflights carry no token; login has limits of its own
    try:
        refuse_query_token(request.args, "send Authorization: Bearer <token>")
        identity = decode(bearer_token(request.headers.get("Authorization")))
    except Unauthorized:
        throttle.hit("api", "address", request.remote_addr or "")
        raise
    # Keyed by the verified identity: respelling the header never buys a fresh budget.
    throttle.hit("api", "agent", identity.org, identity.agent_id)
    ensure_agent(identity)
    g.identity = identity


def caller():
    """The authenticated caller of this request."""
    return g.identity


from . import auth, docs, health, presence, reason_codes, reports, typing  # noqa: E402,F401  (routes register on bp)
