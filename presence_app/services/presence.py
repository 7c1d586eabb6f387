"""Presence rules: reading, setting status, signs of life and the timeout sweep."""
import functools

from flask import current_app
from sqlalchemy import DateTime, Float, String, bindparam, select

from .. import metrics
from ..dbtime import db_now, now, seconds_ago
from ..errors import Forbidden, NotFound
from ..extensions import db
from ..schemas.base import iso
from ..schemas.presence import presence_object
from . import deadlines, hearing, heartbeats, reason_codes
from .identity import ensure_agent
from .transitions import (
    EXPIRY_CANDIDATE,
    MINE,
    P,
    apply,
    change,
    changing,
    differs,
    finish,
    new_state,
    prepared,
    resume_values,
    stop_typing_of,
    touching,
)


def _timeout():
    return current_app.config["PRESENCE_TIMEOUT_SECONDS"]


def presence_of(row):
    """The presence object of a row read with the database's now (`now`)."""
    return presence_object(row, row.now, _timeout(), current_app.config["DEFAULT_CAPACITY"])


def get(org, agent_id):
    """One active agent's presence, if the agent belongs to `org`."""
    row = db.session.execute(
        select(*P.c, now().label("now")).where(P.c.agent_id == agent_id, P.c.org == org, P.c.active)).first()
    db.session.commit()
    if row is None:
        raise NotFound(f"agent {agent_id} not found")
    return presence_of(row)


def mine(identity):
    """The caller's own presence; a missing row checks the caller again (deactivated: 401)."""
    try:
        return get(identity.org, identity.agent_id)
    except NotFound:
        ensure_agent(identity, force=True)
        return get(identity.org, identity.agent_id)


def may_set(actor, agent_id):
    """`actor` may set `agent_id`'s status (its own, or any as a supervisor); else 403, before input is read."""
    if agent_id != actor.agent_id and not actor.is_supervisor:
        raise Forbidden("only supervisors may set another agent's status")
    return actor


def set_status(actor, status, message="", agent_id=None, reason_code=None, until=None, for_minutes=None):
    """Set a status: the caller's own (reason manual) or, for a supervisor, another agent's."""
    target = actor.agent_id if agent_id is None else agent_id
    own = target == actor.agent_id
    may_set(actor, target)
    reason_codes.check(actor.org, reason_code, status)
    deadline = "for" if for_minutes is not None else "until" if until is not None else None
    params = {"b_agent": target, "b_org": actor.org, "b_status": status, "b_message": message,
              "b_code": reason_code, "b_until": deadlines.status_until(until) if until is not None else None,
              "b_ahead": 60 * (for_minutes or 0)}
    changing_stmt, touching_stmt = _setting(own, deadline)
    rows = apply(changing_stmt(), params, actor=actor.agent_id)
    row = rows[0] if rows else db.session.execute(touching_stmt(), params).first()
    if row is None:
        db.session.rollback()
        if own:
            ensure_agent(actor, force=True)  # deactivated meanwhile: a 401
        raise NotFound(f"agent {target} not found")
    stopped = stop_typing_of([target]) if rows and status == "offline" else []
    finish(changed=rows, stopped=stopped)
    return presence_of(row)


@functools.cache
def _setting(own, deadline):
    """Prepared statements of a set-status: its change when the state differs, its touch when not."""
    def values():
        until = {None: None, "for": db_now(bindparam("b_ahead", type_=Float)),
                 "until": bindparam("b_until", type_=DateTime)}[deadline]
        # A manual change is a sign of life, wins over a resume pending from a timeout, and
        # replaces any expiring status and any away set by idleness.
        result = {"timed_out": False, "resume_status": None, "resume_message": None, "resume_reason_code": None,
                  "idle_away": False, **deadlines.expiry_values(until)}
        if own:
            result["last_seen"] = now()
        return result

    status, message, code = (bindparam(name, type_=String) for name in ("b_status", "b_message", "b_code"))
    return (prepared(lambda: changing(MINE & differs(status, message, code),
                                      dict(values(), **new_state(status, message, code)),
                                      "manual" if own else "supervisor")),
            prepared(lambda: touching(MINE, values())))


def _alive(heartbeat):
    return {"last_seen": now(), "last_heartbeat": now()} if heartbeat else {"last_seen": now()}


@functools.cache
def _live_again(heartbeat):
    """Prepared statements of a sign of life: one for an agent alive, one that resumes a timed-out one."""
    return (prepared(lambda: touching(MINE & ~P.c.timed_out, _alive(heartbeat))),
            prepared(lambda: changing(MINE & P.c.timed_out, dict(resume_values(), **_alive(heartbeat)), "resumed")))


def sign_of_life(identity, heartbeat=False):
    """Record that the agent is alive; resume it if the timeout had set it offline."""
    mine = {"b_agent": identity.agent_id, "b_org": identity.org}
    still, resumed = _live_again(heartbeat)
    for _ in range(3):
        row = db.session.execute(still(), mine).first()
        if row is not None:
            return row, []
        rows = apply(resumed(), mine, actor=identity.agent_id)
        if rows:
            return rows[0], rows
        # The row is missing (a database reset under a cached identity): provision again.
        db.session.rollback()
        ensure_agent(identity, force=True)
    raise RuntimeError(f"presence of agent {identity.agent_id} could not be written")


def heartbeat(identity, transport="rest"):
    """A heartbeat over `transport` (rest, socket): alive now, in a group commit; returns my presence and the time."""
    metrics.heartbeat(transport)
    row = heartbeats.submit(identity)
    if row is None:  # no presence row (a database reset under a cached identity): provision it again
        row, changed = sign_of_life(identity, heartbeat=True)
        finish(changed=changed)
    return presence_of(row), iso(row.now)


def activity(identity, idle):
    """The console reports idleness: an online agent goes away (reason idle) and comes back (reason active)."""
    alive, changed = sign_of_life(identity)
    mine = (P.c.agent_id == identity.agent_id) & (P.c.org == identity.org) & ~P.c.timed_out
    if idle:
        where, values = mine & (P.c.status == "online"), {"status": "away", "idle_away": True}
    else:
        # Only an away set by idleness: one the agent or a supervisor chose stays.
        where, values = mine & (P.c.status == "away") & P.c.idle_away, {"status": "online", "idle_away": False}
    rows = change(where, dict(values, status_changed_at=now()), "idle" if idle else "active", actor=identity.agent_id)
    finish(changed=changed + rows)
    return presence_of(rows[0] if rows else alive)


def expire_inactive():
    """The timeout sweep: set offline every agent with no socket and no sign of life it could have sent."""
    config = current_app.config
    hearing.sweeping(config["PRESENCE_SWEEP_SECONDS"])
    if hearing.a_process_is_late(config["PROCESS_DEAD_SECONDS"]):
        db.session.commit()  # its next beat says whether it heard agents meanwhile; sweep after that
        return 0
    cutoff = seconds_ago(_timeout())
    rows = change(
        EXPIRY_CANDIDATE & (P.c.last_seen < cutoff) & (hearing.heard_since() < cutoff),
        {"status": "offline", "status_message": "", "reason_code": None, "status_changed_at": now(),
         "timed_out": True, "resume_status": P.c.status, "resume_message": P.c.status_message,
         "resume_reason_code": P.c.reason_code},
        "timeout",
    )
    finish(changed=rows, stopped=stop_typing_of([r.agent_id for r in rows]))
    return len(rows)
