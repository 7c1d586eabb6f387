"""Live sockets across tabs and processes: connect, disconnect, grace, and reaping the dead."""
import threading

from flask import current_app
from sqlalchemy import Float, bindparam, case, delete, func, insert, select, update

from .. import notify
from ..dbtime import db_now, now, seconds_ago
from ..errors import LimitExceeded
from ..extensions import db
from ..models import WebProcess
from . import hearing, rosters
from .identity import ensure_agent
from .transitions import (
    MINE,
    UNSETTLED,
    C,
    P,
    apply,
    change,
    changing,
    finish,
    insert_new,
    live_count,
    prepared,
    resume_values,
    stop_typing_of,
    touching,
)

W = WebProcess.__table__
TURNS = "presence_socket_turns"
WRITERS_AT_ONCE = 3
BATCH = 500  # sockets closed in one transaction (a shift's tokens expiring together)


def _turn():
    # A herd of sockets connecting (or leaving) at once takes turns at the database: never more at
    # a time than leave connections in the pool for everyone else (heartbeats, REST, the jobs).
    # Only the transaction takes a turn; announcing it and the roster snapshot come after.
    return current_app.extensions.setdefault(TURNS, threading.BoundedSemaphore(WRITERS_AT_ONCE))


def register_process(process_id):
    """Record a starting web process; it touches no other process's sockets."""
    db.session.execute(insert(W).values(id=process_id, started_at=now(), beat_at=now()))
    db.session.commit()


def retire_process(process_id):
    """A web process stops cleanly: its sockets close now, and its agents go through the normal grace."""
    db.session.execute(delete(W).where(W.c.id == process_id))
    _drop_sockets(C.c.process_id == process_id, 0)


def beat(process_id, present):
    """A web process is alive, and its rows are its live sockets; a late beat means it could not hear agents.

    `present()` returns this process's sockets as they are at the moment of asking (see `reconcile`).
    """
    dead_after = current_app.config["PROCESS_DEAD_SECONDS"]
    mine = W.c.id == process_id
    if not db.session.execute(update(W).where(mine & (W.c.beat_at >= seconds_ago(dead_after)))
                              .values(beat_at=now())).rowcount:
        hearing.heard_again()  # a database outage or a long pause: its agents' heartbeats went unheard
        if not db.session.execute(update(W).where(mine).values(beat_at=now())).rowcount:
            db.session.execute(insert(W).values(id=process_id, started_at=now(), beat_at=now()))
    db.session.commit()
    reconcile(process_id, present)


def reconcile(process_id, present):
    """Make this process's connection rows its live sockets: drop rows of closed ones, count uncounted ones.

    `present()` returns ({sid: identity} of live sockets, sids being opened now, whose rows come first);
    it is asked after the rows are read, so that a socket opened meanwhile is never taken for closed.
    """
    rows = set(db.session.scalars(select(C.c.sid).where(C.c.process_id == process_id)))
    db.session.commit()
    live, opening = present()
    # A close whose write failed (the database was away) left its row: it goes now.
    closed = rows - set(live) - set(opening)
    disconnect_many(sorted(closed))
    # A socket whose row is missing (reaped while this process was silent, or a failed connect clean-up).
    for sid in set(live) - rows:
        connect(live[sid], sid, process_id)
    return len(closed)


def connect(identity, sid, process_id, limit=None):
    """A socket of the agent is live: count it (refused past `limit` sockets); announce if it was not connected."""
    for _ in range(2):
        with _turn():
            row, changed = _connect_once(identity, sid, process_id, limit)
            if row is not None:
                db.session.commit()
        if row is not None:
            finish(changed=changed)
            return row
        # The presence row is missing (a database reset under a cached identity): provision again.
        db.session.rollback()
        ensure_agent(identity, force=True)
    raise RuntimeError(f"connection of agent {identity.agent_id} could not be recorded")


def open_socket(identity, sid, process_id, interest, diff=False, since=None):
    """A socket connected: count it, then send it its interest's roster; on failure, leave nothing.

    A socket that comes back with the cursor of its last roster (`since`) gets only what changed
    after it, while the cursor is known and recent enough; else the whole roster.
    """
    connect(identity, sid, process_id, limit=current_app.config["MAX_SOCKETS_PER_AGENT"])
    try:
        moment = rosters.since_of(since, current_app.config["SYNC_WINDOW_SECONDS"]) if since else None
        if moment is not None:
            notify.resumed_state(sid, interest, identity.agent_id, diff, lambda: rosters.changed_since(
                identity.org, interest, identity.agent_id, moment))
        else:
            notify.presence_state(sid, interest, identity.agent_id, diff,
                                  lambda wanted: rosters.roster(wanted.org, interest=wanted))
    except Exception:
        db.session.rollback()
        disconnect(sid)
        raise


@prepared
def _lock():
    return select(P.c.agent_id).where(MINE).with_for_update()


@prepared
def _others():
    return select(func.count()).where(C.c.agent_id == bindparam("b_agent"), C.c.sid != bindparam("b_sid"))


@prepared
def _insert_socket():
    return insert_new(C, sid=bindparam("b_sid"), agent_id=bindparam("b_agent"), process_id=bindparam("b_process"),
                      connected_at=now())


def _counted():
    return {"connections": live_count(), "last_seen": now(), "disconnected_at": None}


@prepared
def _still_connected():
    return touching(MINE & P.c.websocket_connected & ~P.c.timed_out, _counted())


@prepared
def _now_connected():
    return changing(MINE & (~P.c.websocket_connected | P.c.timed_out),
                    dict(resume_values(), websocket_connected=True, **_counted()),
                    case((P.c.timed_out, "resumed"), else_="connected"))


def _connect_once(identity, sid, process_id, limit):
    mine = {"b_agent": identity.agent_id, "b_org": identity.org}
    # Lock the agent's row first (SQLite's BEGIN IMMEDIATE already serializes writers), so that the
    # count below, a statement of its own, sees every socket a concurrent connect has committed.
    if db.session.execute(_lock(), mine).first() is None:
        return None, []
    if limit is not None and db.session.scalar(_others(), {"b_agent": identity.agent_id, "b_sid": sid}) >= limit:
        db.session.rollback()
        raise LimitExceeded(f"an agent holds at most {limit} live sockets; close one first")
    db.session.execute(_insert_socket(), dict(mine, b_sid=sid, b_process=process_id))
    row = db.session.execute(_still_connected(), mine).first()
    if row is not None:
        return row, []
    rows = apply(_now_connected(), mine, actor=identity.agent_id)
    return (rows[0], rows) if rows else (None, [])


def disconnect(sid):
    """A socket closed; return (agent_id, True if it was the agent's last socket)."""
    with _turn():
        _lock_agents_of(C.c.sid == sid)
        gone = db.session.execute(_drop_socket(), {"b_sid": sid}).first()
        if gone is None:
            db.session.commit()
            return None, False
        last = _recount([gone.agent_id], 0)[0].connections == 0
        stopped = stop_typing_of([gone.agent_id]) if last else []
        db.session.commit()
    finish(stopped=stopped)
    return gone.agent_id, last


def disconnect_many(sids):
    """Sockets closed together (a shift's tokens expiring): one transaction per BATCH; return agents left with none."""
    orphaned = []
    for start in range(0, len(sids), BATCH):
        with _turn():
            orphaned += _drop_sockets(C.c.sid.in_(sids[start:start + BATCH]), 0)[1]
    return orphaned


@prepared
def _drop_socket():
    return delete(C).where(C.c.sid == bindparam("b_sid")).returning(C.c.agent_id)


@prepared
def _recount_statement():
    count, seen = live_count(), db_now(bindparam("b_offset", type_=Float))
    return (
        update(P).where(P.c.agent_id.in_(bindparam("b_agents", expanding=True)))
        .values(connections=count,
                disconnected_at=case((count == 0, now()), else_=None),
                last_seen=case((P.c.last_seen < seen, seen), else_=P.c.last_seen))
        .returning(P.c.agent_id, P.c.connections)
    )


def _recount(agent_ids, seen_offset):
    """Recount sockets of agents, seen alive `seen_offset` seconds from now; start the grace of those left with none."""
    return db.session.execute(_recount_statement(), {"b_agents": list(agent_ids), "b_offset": seen_offset}).all()


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
    hearing.reaping(current_app.config["PROCESS_BEAT_SECONDS"])
    # Silent since before the service could hear again (an outage just ended) is not dead yet:
    # the silence counts from the later of a web process noticing a gap and the reaper noticing one.
    dead = ((W.c.beat_at < seconds_ago(dead_after)) & (hearing.heard_since() < seconds_ago(dead_after))
            & (hearing.reaping_since() < seconds_ago(dead_after)))
    alive = select(W.c.id).where(~dead)
    db.session.execute(delete(W).where(dead))
    # The dead process last proved its sockets alive about dead_after ago.
    dropped, orphaned = _drop_sockets(C.c.process_id.not_in(alive), -dead_after)
    if orphaned:
        settle(orphaned, grace=0)  # the grace was spent while the process was silent
    return dropped


def _lock_agents_of(where):
    # As connect does, the agents' rows are locked before their sockets change: a recount after a
    # lock wait is a statement of its own, so it sees a socket a concurrent connect committed meanwhile
    # (an UPDATE's count subquery that waited would not, and leave the count one short for good).
    owners = select(C.c.agent_id).where(where)
    db.session.execute(select(P.c.agent_id).where(P.c.agent_id.in_(owners)).order_by(P.c.agent_id).with_for_update())


def _drop_sockets(where, seen_offset):
    """Delete the sockets matching `where`, recount their agents; return (how many, agents left with none)."""
    _lock_agents_of(where)
    gone = db.session.execute(delete(C).where(where).returning(C.c.agent_id)).all()
    agent_ids = sorted({g.agent_id for g in gone})
    rows = _recount(agent_ids, seen_offset) if agent_ids else []
    orphaned = [r.agent_id for r in rows if r.connections == 0]
    finish(stopped=stop_typing_of(orphaned))
    return len(gone), orphaned
