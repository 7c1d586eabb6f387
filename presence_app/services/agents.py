"""Agents who leave: deactivation (out of every roster, count and candidate list; tokens refused) and its undoing.

Every process refuses a deactivated agent: the hot paths' statements match active agents only (a
missing row sends the caller down the slow path, which checks the agent again), and each web
process looks every second for agents deactivated lately, drops them from its cache of known agents
and closes their sockets it holds (besides the close sent through the message queue at once).
"""
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, select, update

from .. import notify
from ..dbtime import now
from ..errors import Forbidden, NotFound
from ..extensions import db
from ..models import Agent
from ..schemas.base import iso
from .deadlines import CLEARED
from .identity import forget
from .transitions import C, P, apply, changing, finish, new_state, prepared, stop_typing_of

A = Agent.__table__
_LOOKED = "presence_departures_looked_at"
# A deactivation is stamped before its transaction commits: each look goes back this far behind the last.
LOOK_BACK = timedelta(seconds=10)
THIS = (A.c.id == bindparam("b_agent")) & (A.c.org == bindparam("b_org"))
HERE = (P.c.agent_id == bindparam("b_agent")) & (P.c.org == bindparam("b_org"))


def deactivate(actor, agent_id):
    """The agent leaves: offline (reason deactivated), out of rosters and candidates, sockets closed, tokens refused."""
    if agent_id == actor.agent_id:
        raise Forbidden("an agent cannot deactivate itself")
    which = {"b_agent": agent_id, "b_org": actor.org}
    if db.session.execute(_stamp(), which).first() is None:
        return _as_is(agent_id, which)  # unknown, or deactivated already: nothing to announce again
    gone = {"active": False, "websocket_connected": False, **new_state("offline", "", None), **CLEARED,
            "timed_out": False, "resume_status": None, "resume_message": None, "resume_reason_code": None}
    rows = apply(changing(HERE & P.c.active, gone, "deactivated"), which, actor=actor.agent_id)
    stopped = stop_typing_of([agent_id])
    sids = db.session.scalars(select(C.c.sid).where(C.c.agent_id == agent_id)).all()
    finish(changed=rows, stopped=stopped)
    forget([agent_id])
    notify.close_sockets(sids)  # wherever they are: the message queue carries the close to their process
    return _as_is(agent_id, which)


def reactivate(actor, agent_id):
    """Undo a deactivation: the agent is back (offline, announced with reason profile) and its tokens work again."""
    which = {"b_agent": agent_id, "b_org": actor.org}
    if db.session.execute(_unstamp(), which).first() is None:
        return _as_is(agent_id, which)  # unknown, or active already
    rows = apply(changing(HERE & ~P.c.active, {"active": True}, "profile"), which, actor=actor.agent_id)
    finish(changed=rows)
    return _as_is(agent_id, which)


def close_departed(live):
    """Drop agents deactivated lately from this process's cache and close their sockets here (`live`: sid -> agent)."""
    looked = current_app.extensions.setdefault(_LOOKED, {})
    at = db.session.scalar(select(now()))
    since = looked.get("at", at) - LOOK_BACK
    departed = set(db.session.scalars(select(A.c.id).where(A.c.deactivated_at >= since)).all())
    db.session.commit()
    looked["at"] = at
    forget(departed)
    notify.close_sockets([sid for sid, agent_id in live.items() if agent_id in departed])
    return departed


def _as_is(agent_id, which):
    row = db.session.execute(select(A.c.deactivated_at).where(THIS), which).first()
    db.session.commit()
    if row is None:
        raise NotFound(f"agent {agent_id} not found")
    return {"agent_id": agent_id, "active": row.deactivated_at is None, "deactivated_at": iso(row.deactivated_at)}


@prepared
def _stamp():
    return update(A).where(THIS & A.c.deactivated_at.is_(None)).values(deactivated_at=now()).returning(A.c.id)


@prepared
def _unstamp():
    return update(A).where(THIS & A.c.deactivated_at.is_not(None)).values(deactivated_at=None).returning(A.c.id)
