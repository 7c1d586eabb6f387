"""The webhook outbox: events written in the same transaction as the change they carry.

Each event becomes one row per endpoint of its org that wants its type, so that a crash of any
process after the commit loses none: the delivery reads these rows (services/delivery.py). An org
with no endpoint costs one indexed read.
"""
import json
import secrets

from sqlalchemy import String, Text, bindparam, insert, literal, select

from ..dbtime import now
from ..extensions import db
from ..schemas.base import iso
from ..schemas.presence import change_event
from ..webhook_models import WebhookEndpoint, WebhookEvent

E, EV = WebhookEndpoint.__table__, WebhookEvent.__table__
PRESENCE_CHANGED = "agent.presence.changed"
STATUS_OVERRUN = "agent.status.overrun"
ENDPOINTS_OF = select(E.c.id, E.c.org, E.c.events).where(E.c.org.in_(bindparam("b_orgs", expanding=True)), E.c.enabled)
INSERT = insert(EV).values(at=now())
# One event (the hot path: one agent's change): one statement that writes a row per endpoint that wants it.
INSERT_ONE = insert(EV).from_select(
    ["endpoint_id", "event_id", "type", "data", "at"],
    select(E.c.id, bindparam("b_event", type_=String), bindparam("b_type", type_=String),
           bindparam("b_data", type_=Text), now())
    .where(E.c.org == bindparam("b_org"), E.c.enabled,
           (literal(" ") + E.c.events + literal(" ")).like(bindparam("b_like", type_=String))))


def event_id():
    """A new event id; the same event to two endpoints keeps it (receivers de-duplicate by it)."""
    return f"evt_{secrets.token_hex(12)}"


def record(org, event_type, events):
    """Queue webhook events of `event_type` for `org`'s endpoints, in the caller's transaction.

    `events` is a list of {"agent_id": int or None, "seq": int or None, "data": dict}; nothing is
    written when the org has no endpoint for that type. The caller commits.
    """
    _write([(org, event_type, event["data"]) for event in events])


def record_changes(rows):
    """Queue agent.presence.changed of rows a change returned (the caller commits)."""
    _write([(r.org, PRESENCE_CHANGED, dict(change_event(r), org=r.org))
            for r in sorted(rows, key=lambda r: (r.agent_id, r.seq))])


def record_overruns(rows):
    """Queue agent.status.overrun of rows the overrun sweep marked (the caller commits)."""
    _write([(r.org, STATUS_OVERRUN, {"agent_id": r.agent_id, "name": r.name, "status": r.status,
                                     "reason_code": r.reason_code, "since": iso(r.code_since),
                                     "max_minutes": r.max_minutes, "org": r.org}) for r in rows])


def _write(events):
    """One read of the orgs' endpoints; one INSERT of every (endpoint, event) pair, if any."""
    if len(events) == 1:
        org, event_type, data = events[0]
        db.session.execute(INSERT_ONE, {"b_org": org, "b_type": event_type, "b_like": f"% {event_type} %",
                                        "b_event": event_id(), "b_data": json.dumps(data, ensure_ascii=False)})
        return
    if not events:
        return
    endpoints = db.session.execute(ENDPOINTS_OF, {"b_orgs": sorted({org for org, _, _ in events})}).all()
    if not endpoints:
        return
    wanted = {}
    for endpoint in endpoints:
        for event_type in endpoint.events.split():
            wanted.setdefault((endpoint.org, event_type), []).append(endpoint.id)
    pairs = []
    for org, event_type, data in events:
        targets = wanted.get((org, event_type))
        if targets:
            values = {"event_id": event_id(), "type": event_type, "data": json.dumps(data, ensure_ascii=False)}
            pairs.extend(dict(values, endpoint_id=target) for target in targets)
    if pairs:
        db.session.execute(INSERT, pairs)

