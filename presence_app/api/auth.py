"""POST /auth/token: standalone login that mints the same tokens the platform does."""
from flask import request

from .. import throttle
from ..openapi import documented
from ..schemas.auth import LoginIn
from ..schemas.base import load_json
from ..services import accounts
from ..shapes.auth import TokenAnswer
from . import bp


@bp.post("/auth/token")
@documented(TokenAnswer, body=LoginIn, public=True, errors=(401, 429, 503))
def issue_token():
    """Exchange an email and password for a bearer token."""
    throttle.hit("login", "address", request.remote_addr or "")
    body = load_json(LoginIn, request.get_data())
    throttle.hit("login", "email", body["email"].strip().lower())
    return accounts.login(body["email"], body["password"])
