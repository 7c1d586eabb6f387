"""Delivery of webhook messages: batching per endpoint, one delivery in flight, retries, disabling.

Every WEBHOOK_POLL_SECONDS a process claims the endpoints with due work (a lease in their row, so
that one delivery is in flight per endpoint whichever process runs it) and delivers each in a
background task: the endpoint's oldest pending message first (a retry keeps its webhook-id), else a
new message of its next 1-100 outbox events, once 100 wait or the oldest has waited BATCH_WAIT.
A message is a row before it is sent, and its events leave the outbox in the same transaction: a
crash anywhere loses nothing (the lease lapses and the message is sent again, with the same id).
"""
import json
import logging
import secrets
import time
from datetime import UTC, datetime

import urllib3
from flask import current_app
from sqlalchemy import delete, exists, func, insert, or_, select, update

from .. import metrics, outbound, signing
from ..dbtime import now, seconds_ago, seconds_ahead
from ..errors import translate
from ..extensions import db, socketio
from ..schemas.base import iso
from ..webhook_models import WebhookAttempt, WebhookEndpoint, WebhookEvent, WebhookMessage

E, EV, M, A = (WebhookEndpoint.__table__, WebhookEvent.__table__, WebhookMessage.__table__,
               WebhookAttempt.__table__)
log = logging.getLogger(__name__)
BATCH = 100  # events in one message at most
BATCH_WAIT = 0.5  # seconds an event waits for others to fill its message (it goes out within 1 s)
LEASE_MARGIN = 5  # seconds a lease outlives a delivery's timeout: then a crashed holder's work is taken over
FAILING_DAYS = 5  # without a success: the endpoint is disabled
MAX_IN_FLIGHT = 32  # deliveries one process runs at once
LOG_DAYS = 30  # the delivery log and finished messages are kept this long
JOB_SECONDS = 0.8  # how long one run of the periodic job keeps polling (it runs every second)
_FLIGHT = "presence_webhooks_in_flight"
PENDING = M.c.state == "pending"
FREE = E.c.enabled & or_(E.c.leased_until.is_(None), E.c.leased_until < now())


def run(seconds=JOB_SECONDS):
    """The periodic job: for `seconds`, every WEBHOOK_POLL_SECONDS, start deliveries to endpoints with due work."""
    poll, started = current_app.config["WEBHOOK_POLL_SECONDS"], 0
    end = time.monotonic() + seconds
    while True:
        started += start_due()
        if time.monotonic() + poll >= end:
            return started
        socketio.sleep(poll)


def start_due():
    """Claim the endpoints with due work (as many as this process may still run) and deliver each in a task."""
    app = current_app._get_current_object()
    flying = app.extensions.setdefault(_FLIGHT, set())
    room = MAX_IN_FLIGHT - len(flying)
    if room <= 0:
        return 0
    lease = secrets.token_hex(12)
    claimed = _claim(room, lease)
    for endpoint in claimed:
        flying.add(endpoint)
        socketio.start_background_task(_deliver_in, app, endpoint, lease)
    return len(claimed)


def _lease():
    return seconds_ahead(current_app.config["WEBHOOK_TIMEOUT_SECONDS"] + LEASE_MARGIN)


def _due():
    """SQL: the endpoint has a message due, or (none waiting for a retry) events enough or old enough."""
    mine = M.c.endpoint_id == E.c.id
    events = select(EV.c.id).where(EV.c.endpoint_id == E.c.id)
    ready = exists(events.where(EV.c.at <= seconds_ago(BATCH_WAIT))) | exists(
        events.order_by(EV.c.id).offset(BATCH - 1).limit(1))
    return exists().where(mine, PENDING, M.c.next_attempt_at <= now()) | (~exists().where(mine, PENDING) & ready)


def _claim(limit, lease):
    pick = select(E.c.id).where(FREE, _due()).limit(limit)
    if db.engine.dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    rows = db.session.execute(update(E).where(E.c.id.in_(pick.scalar_subquery()), FREE)
                              .values(leased_until=_lease(), lease=lease).returning(E.c.id)).all()
    db.session.commit()
    return [row.id for row in rows]


def _deliver_in(app, endpoint, lease):
    with app.app_context():
        try:
            deliver(endpoint, lease)
        except Exception as exc:  # noqa: BLE001 - the lease lapses and another pass takes the endpoint again
            if translate(exc) is None:
                log.exception("webhook delivery to %s failed", endpoint)
            else:  # the database is away: one line, not a traceback per endpoint
                log.warning("webhook delivery to %s stopped: %s", endpoint, translate(exc).message)
            db.session.rollback()
        finally:
            app.extensions[_FLIGHT].discard(endpoint)


def deliver(endpoint, lease):
    """Send the endpoint's due messages one after another while they succeed; then let go of its lease."""
    try:
        while True:
            message = _next_message(endpoint, lease)
            if message is None or not _send(endpoint, message):
                return
    finally:
        db.session.rollback()
        db.session.execute(update(E).where(E.c.id == endpoint, E.c.lease == lease).values(leased_until=None,
                                                                                           lease=None))
        db.session.commit()


def _next_message(endpoint, lease):
    """The head pending message if due (None if it waits for a retry), else a new one from the outbox.

    None too when the lease was lost (it lapsed and another process holds it now).
    """
    mine = db.session.execute(update(E).where(E.c.id == endpoint, E.c.enabled, E.c.lease == lease)
                              .values(leased_until=_lease()).returning(E.c.id)).first()
    if mine is None:
        db.session.commit()
        return None
    head = db.session.execute(select(M, (M.c.next_attempt_at <= now()).label("due"))
                              .where(M.c.endpoint_id == endpoint, PENDING).order_by(M.c.id).limit(1)).first()
    if head is not None:
        db.session.commit()
        return head if head.due else None
    rows = db.session.execute(select(EV, now().label("now")).where(EV.c.endpoint_id == endpoint)
                              .order_by(EV.c.id).limit(BATCH)).all()
    if not rows or (len(rows) < BATCH and (rows[0].now - rows[0].at).total_seconds() < BATCH_WAIT):
        db.session.commit()
        return None
    body = json.dumps({"type": "presence.events", "timestamp": iso(rows[0].now), "data": {"events": [
        {"id": r.event_id, "type": r.type, "timestamp": iso(r.at), "data": json.loads(r.data)} for r in rows]}},
        ensure_ascii=False, separators=(",", ":"))
    message = db.session.execute(insert(M).values(
        message_id=f"msg_{secrets.token_hex(12)}", endpoint_id=endpoint, body=body, events=len(rows),
        state="pending", retries=0, attempts=0, next_attempt_at=now(), created_at=now()).returning(*M.c)).one()
    db.session.execute(delete(EV).where(EV.c.id.in_([r.id for r in rows])))
    db.session.commit()
    return message


def _send(endpoint, message):
    """One attempt of a message; record it; True if it succeeded."""
    config = current_app.config
    target = db.session.execute(select(E.c.url, E.c.secret, E.c.previous_secret, E.c.enabled,
                                       (E.c.previous_until > now()).label("rotating")).where(E.c.id == endpoint)).one()
    db.session.commit()
    if not target.enabled:
        return False
    at = datetime.now(UTC)
    keys = [target.secret] + ([target.previous_secret] if target.rotating else [])
    body = message.body.encode()
    headers = {"webhook-id": message.message_id, "webhook-timestamp": str(int(at.timestamp())),
               "webhook-signature": signing.signature(message.message_id, at, body, keys),
               "content-type": "application/json", "user-agent": "presence_app-webhooks"}
    status, error = None, None
    try:
        status = outbound.post(target.url, body, headers, config["WEBHOOK_TIMEOUT_SECONDS"],
                               config["WEBHOOK_ALLOW_PRIVATE"], config["WEBHOOK_CA_FILE"])
    except outbound.Refused as exc:
        error = f"refused: {exc}"
    except urllib3.exceptions.TimeoutError:
        error = "timeout"
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        error = f"connection failed: {type(exc).__name__}"
    ok = status is not None and 200 <= status < 300
    if status is not None and not ok:
        error = f"HTTP {status}"
    _record(endpoint, message, status, error, ok)
    metrics.webhook_attempt(ok)
    return ok


def _record(endpoint, message, status, error, ok):
    """The attempt's outcome: delivered, a retry scheduled, failed; 410 or five failing days disable the endpoint."""
    schedule = current_app.config["WEBHOOK_RETRY_SECONDS"]
    retries = message.retries + (0 if ok else 1)
    gone = status == 410
    failed = not ok and (gone or retries > len(schedule))
    upcoming = None if ok or failed else seconds_ahead(schedule[retries - 1])
    state = "delivered" if ok else "failed" if failed else "pending"
    row = db.session.execute(update(M).where(M.c.id == message.id).values(
        state=state, retries=retries, attempts=M.c.attempts + 1, next_attempt_at=upcoming)
        .returning(M.c.attempts, M.c.next_attempt_at)).one()
    db.session.execute(insert(A).values(endpoint_id=endpoint, message_id=message.message_id, events=message.events,
                                        attempt=row.attempts, status_code=status, error=error and error[:200],
                                        at=now(), next_attempt_at=row.next_attempt_at))
    if ok:
        db.session.execute(update(E).where(E.c.id == endpoint).values(failing_since=None))
    else:
        failing = db.session.execute(update(E).where(E.c.id == endpoint)
                                     .values(failing_since=func.coalesce(E.c.failing_since, now()))
                                     .returning((E.c.failing_since <= seconds_ago(FAILING_DAYS * 86400))
                                                .label("too_long"))).one()
        if gone or failing.too_long:
            _disable(endpoint, "gone" if gone else "failing")
    db.session.commit()


def _disable(endpoint, reason):
    """Nothing more is sent to the endpoint: its pending messages fail and its outbox events go."""
    log.warning("webhook endpoint %s disabled (%s)", endpoint, reason)
    db.session.execute(update(E).where(E.c.id == endpoint).values(enabled=False, disabled_reason=reason))
    db.session.execute(update(M).where(M.c.endpoint_id == endpoint, PENDING).values(state="failed",
                                                                                   next_attempt_at=None))
    db.session.execute(delete(EV).where(EV.c.endpoint_id == endpoint))


def prune():
    """Forget attempts and finished messages older than LOG_DAYS; return how many rows went."""
    before = seconds_ago(LOG_DAYS * 86400)
    gone = db.session.execute(delete(A).where(A.c.at < before)).rowcount
    gone += db.session.execute(delete(M).where(M.c.state != "pending", M.c.created_at < before)).rowcount
    db.session.commit()
    return gone
