"""REST blueprints under /api/v1 and the authentication that guards them."""
from flask import Blueprint, g, request

from .. import throttle
from ..errors import Forbidden, Unauthorized
from ..services.identity import bearer_token, decode, ensure_agent, refuse_query_token

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PUBLIC = {"api.issue_token", "api.openapi_document", "api.asyncapi_document", "api.docs_page", "api.events_page"}


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
    # Keyed by the verified identity: respelling the header never buys a fresh budget. The platform's
    # backend has a budget of its own: it makes the assigns of its whole org.
    if identity.is_service:
        throttle.hit("service", identity.org, identity.subject)
    else:
        throttle.hit("api", "agent", identity.org, identity.agent_id)
    ensure_agent(identity)
    g.identity = identity


def caller():
    """The authenticated caller of this request: an agent, or the platform's backend (`service`)."""
    return g.identity


def agent():
    """The calling agent, for endpoints about the caller's own presence; a service token has none (403)."""
    if g.identity.is_service:
        raise Forbidden("a service token has no presence of its own; use an agent's token")
    return g.identity


def supervisor():
    """The calling supervisor; anyone else is refused (403) before the body is read."""
    if not g.identity.is_supervisor:
        raise Forbidden("only supervisors may do this")
    return g.identity


def manager():
    """A supervisor or the platform's backend (`service`), who manage the org; anyone else is refused (403)."""
    if not g.identity.reads_org:
        raise Forbidden("only supervisors and service tokens may do this")
    return g.identity


from . import (  # noqa: E402,F401  (routes register on bp)
    agents,
    auth,
    docs,
    health,
    presence,
    reason_codes,
    reports,
    routing,
    typing,
    webhooks,
)
