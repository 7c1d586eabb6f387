"""Routing: agents' load, who is next for a chat, and assigning and releasing chats, never past capacity.

Capacity is kept in SQL, not in Python: each assign is one conditional UPDATE of the agent it
chooses (the row locked as it is chosen, `spare > 0` checked on its latest version), and a chat has
at most one open assignment (a unique index), so a repeat of the same chat, however concurrent,
finds the first. On SQLite, BEGIN IMMEDIATE makes each assign's transaction the only writer.
"""
import functools

from flask import current_app
from sqlalchemy import Integer, bindparam, case, func, select, text, update

from ..dbtime import now
from ..errors import NoAgentAvailable, NotFound
from ..extensions import db
from ..models import ASSIGNABLE, AgentTeam, ChatAssignment
from ..schemas.base import iso
from . import outbox
from .presence import presence_of
from .transitions import P, insert_new, prepared

AS, AT = ChatAssignment.__table__, AgentTeam.__table__
PICK = P.alias("pick")
# Spelt as the candidates index's predicate, and ordered as its columns, so that the index serves both.
AVAILABLE = text(ASSIGNABLE)
DEFAULT = bindparam("b_default")
RACES = 50  # rounds an assign may lose to others before it answers 409 (each loss placed another's chat)
OPEN = (AS.c.org == bindparam("b_org")) & (AS.c.chat_id == bindparam("b_chat")) & AS.c.released_at.is_(None)


def _order(table):
    return table.c.spare.desc(), table.c.last_assigned_at.asc().nulls_first(), table.c.agent_id


def _in_team(table):
    members = select(AT.c.agent_id).where(AT.c.org == bindparam("b_org"), AT.c.team == bindparam("b_team"))
    return table.c.agent_id.in_(members)


def _params(org, **more):
    return {"b_org": org, "b_default": current_app.config["DEFAULT_CAPACITY"], **more}


def _load(open_chats, capacity=P.c.capacity):
    """SET clauses of a new load (incremental sync reads updated_at); `spare` follows from it."""
    values = {"open_chats": open_chats, "spare": func.coalesce(capacity, DEFAULT) - open_chats, "updated_at": now()}
    return values if capacity is P.c.capacity else dict(values, capacity=capacity)


def candidates(org, team=None, limit=20):
    """Agents of `org` (of `team`) available for assignment, in the order assign takes them; and the time."""
    params = {"b_org": org, "b_team": team, "b_limit": limit}
    rows = db.session.execute(candidates_query(team is not None)(), params).all()
    server_time = rows[0].now if rows else db.session.scalar(select(now()))
    db.session.commit()
    return [presence_of(row) for row in rows], iso(server_time)


@functools.cache
def candidates_query(in_team):
    """The candidates' SELECT (b_org, b_team, b_limit): read from the candidates index in its order."""
    def build():
        query = select(*P.c, now().label("now")).where(P.c.org == bindparam("b_org"), AVAILABLE)
        query = query.where(_in_team(P)) if in_team else query
        return query.order_by(*_order(P)).limit(bindparam("b_limit", type_=Integer))
    return prepared(build)


def set_load(org, agent_id, **load):
    """Set an active agent's open chats and/or capacity (None: DEFAULT_CAPACITY); return its presence."""
    values = _load(load.get("open_chats", P.c.open_chats), load.get("capacity", P.c.capacity))
    statement = (update(P).where(P.c.agent_id == agent_id, P.c.org == bindparam("b_org"), P.c.active)
                 .values(**values).returning(*P.c, now().label("now")))
    row = db.session.execute(statement, _params(org)).first()
    db.session.commit()
    if row is None:
        raise NotFound(f"agent {agent_id} not found")
    return presence_of(row)


def assign(org, chat_id, team=None, agent_id=None):
    """Give the chat to the first candidate (or the named agent, if available); a repeat answers the same agent."""
    params = _params(org, b_chat=chat_id, b_team=team, b_agent=agent_id)
    assigned = _assigned_to(params)
    if assigned is None:
        row = _take_one(params, named=agent_id is not None, in_team=team is not None)
        placed = row and db.session.execute(_record(), dict(params, b_agent=row.agent_id)).first()
        if placed:
            outbox.record(org, "agent.assigned", [_event(row, chat_id, team=team, assigned_at=iso(placed.assigned_at))])
            db.session.commit()
            return {"agent": presence_of(row), "chat_id": chat_id}
        # No agent; or a concurrent assign of the same chat came first (the unique index said so).
        db.session.rollback()
        assigned = _assigned_to(params)
        if assigned is None:
            _no_agent(org, agent_id)
    return _answer(chat_id, assigned)


def _take_one(params, named, in_team):
    """The chosen agent's row after it took one more chat, or None when there is no candidate."""
    if named:
        return db.session.execute(_take("named", in_team)(), params).first()
    for _ in range(RACES):
        row = db.session.execute(_take("skip_locked", in_team)(), params).first()
        if row is not None:
            return row
        # Every candidate was busy, or none is left. A pick that lost a race may still hold a row lock:
        # let go of it before waiting for the first candidate, so that two assigns never wait for each other.
        db.session.rollback()
        first = db.session.scalar(_first(in_team)(), params)
        if first is None:
            return None
        row = db.session.execute(_take("named", in_team)(), dict(params, b_agent=first)).first()
        if row is not None:
            return row
        db.session.rollback()  # another assign filled it first: each lost race is another's chat placed
    return None


def release(org, chat_id):
    """The chat ends: one less open chat for its agent; a repeat answers released false."""
    params = _params(org, b_chat=chat_id)
    ended = db.session.execute(_end(), params).first()
    if ended is None:
        last = db.session.scalar(select(AS.c.agent_id).where(AS.c.org == org, AS.c.chat_id == chat_id)
                                 .order_by(AS.c.id.desc()).limit(1))
        db.session.commit()
        if last is None:
            raise NotFound(f"chat {chat_id} was never assigned")
        return {"chat_id": chat_id, "agent_id": last, "released": False}
    row = db.session.execute(_unload(), dict(params, b_agent=ended.agent_id)).first()
    outbox.record(org, "agent.released", [_event(row, chat_id, released_at=iso(ended.released_at))])
    db.session.commit()
    return {"chat_id": chat_id, "agent_id": ended.agent_id, "released": True}


def reconcile_spare():
    """Correct the spare capacity of agents that follow DEFAULT_CAPACITY, after a change of it (at start-up)."""
    spare = DEFAULT - P.c.open_chats
    db.session.execute(update(P).where(P.c.capacity.is_(None), P.c.spare != spare).values(spare=spare),
                       {"b_default": current_app.config["DEFAULT_CAPACITY"]})
    db.session.commit()


def _assigned_to(params):
    return db.session.scalar(_open_assignment(), params)


def _answer(chat_id, agent_id):
    row = db.session.execute(select(*P.c, now().label("now")).where(P.c.agent_id == agent_id)).one()
    db.session.commit()
    return {"agent": presence_of(row), "chat_id": chat_id}


def _no_agent(org, agent_id):
    known = agent_id is None or db.session.scalar(
        select(P.c.agent_id).where(P.c.agent_id == agent_id, P.c.org == org, P.c.active)) is not None
    db.session.commit()
    if not known:
        raise NotFound(f"agent {agent_id} not found")
    raise NoAgentAvailable("no agent is available for assignment" if agent_id is None
                           else f"agent {agent_id} is not available for assignment")


def _event(row, chat_id, **more):
    capacity = current_app.config["DEFAULT_CAPACITY"] if row.capacity is None else row.capacity
    data = {"agent_id": row.agent_id, "chat_id": chat_id, "org": row.org, "open_chats": row.open_chats,
            "capacity": capacity, **more}
    return {"agent_id": row.agent_id, "seq": None, "data": data}


@prepared
def _open_assignment():
    return select(AS.c.agent_id).where(OPEN)


@functools.cache
def _first(in_team):
    """The first candidate, read without a lock."""
    return prepared(lambda: _picking(in_team))


def _picking(in_team):
    pick = select(PICK.c.agent_id).where(PICK.c.org == bindparam("b_org"), AVAILABLE)
    return (pick.where(_in_team(PICK)) if in_team else pick).order_by(*_order(PICK)).limit(1)


@functools.cache
def _take(how, in_team):
    """The one conditional UPDATE of an assign: the first candidate (or the named agent) takes one more chat."""
    return prepared(lambda: _taking(how, in_team))


def _taking(how, in_team):
    if how == "named":
        chosen = P.c.agent_id == bindparam("b_agent")
    else:  # the first candidate, locked as it is chosen; one that another assign holds is skipped
        chosen = P.c.agent_id == _picking(in_team).with_for_update(skip_locked=True).scalar_subquery()
    where = chosen & (P.c.org == bindparam("b_org")) & AVAILABLE & (P.c.open_chats < func.coalesce(P.c.capacity,
                                                                                                   DEFAULT))
    where = where & _in_team(P) if in_team and how == "named" else where
    return (update(P).where(where).values(last_assigned_at=now(), **_load(P.c.open_chats + 1))
            .returning(*P.c, now().label("now")))


@prepared
def _record():
    return insert_new(AS, org=bindparam("b_org"), chat_id=bindparam("b_chat"), agent_id=bindparam("b_agent"),
                      team=bindparam("b_team"), assigned_at=now()).returning(AS.c.id, AS.c.assigned_at)


@prepared
def _end():
    return update(AS).where(OPEN).values(released_at=now()).returning(AS.c.agent_id, AS.c.released_at)


@prepared
def _unload():
    fewer = case((P.c.open_chats > 0, P.c.open_chats - 1), else_=0)  # a load set meanwhile may say 0 already
    return (update(P).where(P.c.agent_id == bindparam("b_agent")).values(**_load(fewer))
            .returning(*P.c, now().label("now")))
