"""POST /auth/token: standalone login that mints the same tokens the platform does."""
from flask import current_app, request

from ..extensions import limiter
from ..schemas import LoginIn, load_json
from ..services import identity
from . import bp


@bp.post("/auth/token")
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], key_func=lambda: request.remote_addr or "?")
def issue_token():
    """Exchange an email and password for a bearer token."""
    body = load_json(LoginIn, request.get_data())
    return identity.login(body["email"], body["password"])
