"""Live sockets across tabs and processes: connect, disconnect, grace, and reaping the dead."""
from flask import current_app
from sqlalchemy import case, delete, insert, select, update

from .. import notify
from ..dbtime import now, seconds_ago
from ..extensions import db
from ..models import WebProcess
from . import presence
from .identity import ensure_agent
from .transitions import UNSETTLED, C, P, change, finish, insert_new, live_count, resume_values, stop_typing_of, touch

W = WebProcess.__table__


def register_process(process_id):
    """Record a starting web process; it touches no other process's sockets."""
    db.session.execute(insert(W).values(id=process_id, started_at=now(), beat_at=now()))
    db.session.commit()


def retire_process(process_id):
    """A web process stops cleanly: drop its row so the reaper takes its sockets now."""
    db.session.execute(delete(W).where(W.c.id == process_id))
    db.session.commit()


def beat(process_id, live):
    """A web process is alive; if it had been reaped, re-register its live sockets."""
    found = db.session.execute(update(W).where(W.c.id == process_id).values(beat_at=now())).rowcount
    db.session.commit()
    if not found:
        register_process(process_id)
        for sid, identity in list(live.items()):
            connect(identity, sid, process_id)
    return bool(found)


def connect(identity, sid, process_id):
    """A socket of the agent is live: count it; announce if the agent was not connected."""
    for _ in range(2):
        row, changed = _connect_once(identity, sid, process_id)
        if row is not None:
            finish(changed=changed)
            return row
        # The presence row is missing (a database reset under a cached identity): provision again.
        db.session.rollback()
        ensure_agent(identity, force=True)
    raise RuntimeError(f"connection of agent {identity.agent_id} could not be recorded")


def open_socket(identity, sid, process_id):
    """A socket connected: count it, then send it the org's roster snapshot."""
    connect(identity, sid, process_id)
    agents, server_time = presence.roster(identity.org)
    notify.presence_state(sid, agents, server_time)


def _connect_once(identity, sid, process_id):
    db.session.execute(insert_new(C, sid=sid, agent_id=identity.agent_id, process_id=process_id,
                                  connected_at=now()))
    counted = {"connections": live_count(), "last_seen": now(), "disconnected_at": None}
    mine = (P.c.agent_id == identity.agent_id) & (P.c.org == identity.org)
    row = touch(mine & P.c.websocket_connected & ~P.c.timed_out, **counted)
    if row is not None:
        return row, []
    rows = change(mine & (~P.c.websocket_connected | P.c.timed_out),
                  dict(resume_values(), websocket_connected=True, **counted),
                  case((P.c.timed_out, "resumed"), else_="connected"), actor=identity.agent_id)
    return (rows[0], rows) if rows else (None, [])


def disconnect(sid):
    """A socket closed; return (agent_id, True if it was the agent's last socket)."""
    gone = db.session.execute(delete(C).where(C.c.sid == sid).returning(C.c.agent_id)).first()
    if gone is None:
        db.session.commit()
        return None, False
    row = _recount([gone.agent_id], now())[0]
    last = row.connections == 0
    finish(stopped=stop_typing_of([gone.agent_id]) if last else [])
    return gone.agent_id, last


def _recount(agent_ids, seen_at):
    """Recount sockets of agents; start the grace of those left with none."""
    count = live_count()
    stmt = (
        update(P).where(P.c.agent_id.in_(agent_ids))
        .values(connections=count,
                disconnected_at=case((count == 0, now()), else_=None),
                last_seen=case((P.c.last_seen < seen_at, seen_at), else_=P.c.last_seen))
        .returning(P.c.agent_id, P.c.connections)
    )
    return db.session.execute(stmt).all()


def settle(agent_ids=None, grace=None):
    """Announce agents whose last socket closed more than the grace ago as disconnected."""
    if grace is None:
        grace = current_app.config["DISCONNECT_GRACE_SECONDS"]
    where = UNSETTLED & (P.c.disconnected_at <= seconds_ago(grace))
    if agent_ids is not None:
        where = where & P.c.agent_id.in_(list(agent_ids))
    rows = change(where, {"websocket_connected": False}, "disconnected")
    finish(changed=rows)
    return len(rows)


def reap_dead_processes():
    """Drop the sockets of web processes that stopped beating, and announce their agents."""
    dead_after = current_app.config["PROCESS_DEAD_SECONDS"]
    alive = select(W.c.id).where(W.c.beat_at >= seconds_ago(dead_after))
    gone = db.session.execute(delete(C).where(C.c.process_id.not_in(alive)).returning(C.c.agent_id)).all()
    db.session.execute(delete(W).where(W.c.beat_at < seconds_ago(dead_after)))
    agent_ids = sorted({g.agent_id for g in gone})
    if not agent_ids:
        db.session.commit()
        return 0
    # The dead process last proved its sockets alive about dead_after ago.
    rows = _recount(agent_ids, seconds_ago(dead_after))
    orphaned = [r.agent_id for r in rows if r.connections == 0]
    finish(stopped=stop_typing_of(orphaned))
    if orphaned:
        settle(orphaned, grace=0)
    return len(gone)
