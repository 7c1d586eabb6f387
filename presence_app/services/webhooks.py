"""Webhook endpoints of an org: register (the secret shown once), list, delete, rotate, the log, redeliver."""
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, insert, select, update

from .. import outbound, signing
from ..dbtime import now, seconds_ahead
from ..errors import LimitExceeded, NotFound, ValidationError
from ..extensions import db
from ..schemas.base import iso
from ..webhook_models import EVENT_TYPES, WebhookAttempt, WebhookEndpoint, WebhookEvent, WebhookMessage
from .transitions import take_turn

E, EV, M, A = (WebhookEndpoint.__table__, WebhookEvent.__table__, WebhookMessage.__table__,
               WebhookAttempt.__table__)
MAX_ENDPOINTS = 20  # per org
ROTATION = timedelta(hours=24)  # after a rotation, the old secret signs too for this long
SHOWN = (E.c.id, E.c.url, E.c.events, E.c.description, E.c.enabled, E.c.created_at)


def endpoint_id():
    """A new endpoint id."""
    return f"ep_{secrets.token_hex(10)}"


def _mine(org, endpoint):
    return (E.c.id == endpoint) & (E.c.org == org) & ~E.c.deleted


def shown(row, secret=None):
    """The contract's endpoint object (with its secret only when it was just made)."""
    answer = {"id": row.id, "url": row.url, "events": row.events.split(), "description": row.description,
              "enabled": row.enabled, "created_at": iso(row.created_at)}
    return answer if secret is None else dict(answer, secret=secret)


def check_url(url):
    """Refuse (400) a URL that webhooks may not reach: not https, credentials, private addresses."""
    try:
        outbound.check(url, current_app.config["WEBHOOK_ALLOW_PRIVATE"])
    except outbound.Refused as exc:
        raise ValidationError(f"url {exc}", {"url": [str(exc)]}) from None


def create(org, url, events=EVENT_TYPES, description=""):
    """Register an endpoint of `org`; the answer carries its secret, shown only here."""
    check_url(url)
    take_turn("webhook_endpoints", org)  # two creations at once would both count 19 and make 21
    count = db.session.scalar(select(func.count()).where(E.c.org == org, ~E.c.deleted))
    if count >= MAX_ENDPOINTS:
        db.session.rollback()
        raise LimitExceeded(f"an org has at most {MAX_ENDPOINTS} webhook endpoints")
    secret, new = signing.new_secret(), endpoint_id()
    types = " ".join(t for t in EVENT_TYPES if t in events)
    row = db.session.execute(insert(E).values(
        id=new, org=org, url=url, events=types, description=description, secret=secret, enabled=True,
        deleted=False, created_at=now()).returning(*SHOWN)).one()
    db.session.commit()
    return shown(row, secret)


def endpoints(org):
    """The org's endpoints, oldest first, without secrets."""
    rows = db.session.execute(select(*SHOWN).where(E.c.org == org, ~E.c.deleted).order_by(E.c.created_at, E.c.id))
    answer = [shown(row) for row in rows]
    db.session.commit()
    return answer


def remove(org, endpoint):
    """Delete an endpoint: nothing more is sent to it; its pending events go."""
    row = db.session.execute(update(E).where(_mine(org, endpoint)).values(deleted=True, enabled=False)
                             .returning(E.c.id)).first()
    if row is None:
        db.session.rollback()
        raise NotFound(f"webhook endpoint {endpoint} not found")
    db.session.execute(delete(EV).where(EV.c.endpoint_id == endpoint))
    db.session.commit()
    return {"id": endpoint, "deleted": True}


def rotate(org, endpoint):
    """A new secret; the one it replaces keeps signing (a second signature) for 24 hours."""
    secret = signing.new_secret()
    row = db.session.execute(
        update(E).where(_mine(org, endpoint))
        .values(previous_secret=E.c.secret, previous_until=seconds_ahead(ROTATION.total_seconds()), secret=secret)
        .returning(*SHOWN, E.c.previous_until)).first()
    db.session.commit()
    if row is None:
        raise NotFound(f"webhook endpoint {endpoint} not found")
    return dict(shown(row, secret), previous_secret_expires_at=iso(row.previous_until))


def _known(org, endpoint):
    if db.session.scalar(select(E.c.id).where(_mine(org, endpoint))) is None:
        db.session.rollback()
        raise NotFound(f"webhook endpoint {endpoint} not found")


def deliveries(org, endpoint, limit=20, cursor=None):
    """The endpoint's delivery log, newest attempt first, a page of `limit` after `cursor`."""
    _known(org, endpoint)
    query = select(A).where(A.c.endpoint_id == endpoint)
    if cursor is not None:
        query = query.where(A.c.id < int(cursor))
    rows = db.session.execute(query.order_by(A.c.id.desc()).limit(limit + 1)).all()
    db.session.commit()
    page = [{"id": r.id, "message_id": r.message_id, "events": r.events, "attempt": r.attempt,
             "status_code": r.status_code, "error": r.error, "at": iso(r.at),
             "next_attempt_at": iso(r.next_attempt_at)} for r in rows[:limit]]
    return page, (str(rows[limit - 1].id) if len(rows) > limit else None)


def redeliver(org, endpoint, message_id):
    """Send a message again (the same webhook-id), now, with the retry schedule from its start."""
    _known(org, endpoint)
    row = db.session.execute(
        update(M).where(M.c.message_id == message_id, M.c.endpoint_id == endpoint)
        .values(state="pending", retries=0, next_attempt_at=now()).returning(M.c.next_attempt_at)).first()
    db.session.commit()
    if row is None:
        raise NotFound(f"message {message_id} not found")
    return {"message_id": message_id, "next_attempt_at": iso(row.next_attempt_at)}
