"""The ledger read back: one agent's changes, page by page, for itself or its supervisors."""
from sqlalchemy import select

from ..errors import Forbidden, NotFound
from ..extensions import db
from ..models import Agent, PresenceChange
from ..schemas.base import MAX_ID, iso

L = PresenceChange.__table__
A = Agent.__table__


def check_readable(actor, agent_id):
    """An agent reads its own records, a supervisor or service any of its org; another org's id is unknown."""
    found = None
    if 1 <= agent_id <= MAX_ID:
        found = db.session.scalar(select(A.c.id).where(A.c.id == agent_id, A.c.org == actor.org))
    if found is None:
        raise NotFound(f"agent {agent_id} not found")
    if agent_id != actor.agent_id and not actor.reads_org:
        raise Forbidden("only supervisors may read another agent's records")


def changes(actor, agent_id, since=None, until=None, limit=100, cursor=None):
    """The agent's recorded changes, oldest first, and a cursor to the next page (or None)."""
    check_readable(actor, agent_id)
    query = select(L).where(L.c.agent_id == agent_id).order_by(L.c.seq).limit(limit + 1)
    if cursor is not None:  # the last seq of the page before: continue after it
        query = query.where(L.c.seq > int(cursor))
    if since is not None:
        query = query.where(L.c.at >= since)
    if until is not None:
        query = query.where(L.c.at < until)
    rows = db.session.execute(query).all()
    db.session.commit()
    page = rows[:limit]
    more = len(rows) > limit
    return {"changes": [_change(row) for row in page],
            "next_cursor": str(page[-1].seq) if more else None}


def _change(row):
    return {"seq": row.seq, "from_status": row.from_status, "to_status": row.to_status, "message": row.message,
            "reason": row.reason, "reason_code": row.reason_code, "websocket_connected": row.websocket_connected,
            "actor_id": row.actor_id, "at": iso(row.at)}
