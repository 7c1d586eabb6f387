"""Rosters: an org's agents or those of a socket's interest, incremental reads by cursor, and counts."""
import functools
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import DateTime, and_, bindparam, false, func, or_, select

from ..dbtime import now
from ..extensions import db
from ..models import AgentTeam
from ..schemas.base import iso
from ..schemas.presence import CURSOR_MARGIN_SECONDS, blank, cursor_at, cursor_instant, presence_object, tally
from .transitions import OBJECT_COLUMNS, P

AT = AgentTeam.__table__


def _object(row):
    config = current_app.config
    return presence_object(row, row.now, config["PRESENCE_TIMEOUT_SECONDS"], config["DEFAULT_CAPACITY"])


def covering(org, interest=None, own_agent_id=None):
    """SQL and its parameters: the active agents of `org` that `interest` covers (all without one), and its own."""
    params = {"b_org": org}
    if interest is None or interest.whole_org:
        return _covering(False, False, True), params
    ids = set(interest.agent_ids) | ({own_agent_id} if own_agent_id is not None else set())
    params.update(b_teams=sorted(interest.teams), b_ids=sorted(ids))
    return _covering(bool(interest.teams), bool(ids), False), params


@functools.cache
def _covering(teams, ids, whole):
    if whole:
        return (P.c.org == bindparam("b_org")) & P.c.active
    # The org is checked inside each branch, not beside them: given `presence.org = ?` next to the OR,
    # SQLite (no statistics) reads the whole org by its index, and a herd's team rosters cost O(N) each.
    covers = []
    if teams:  # a team row holds its agent's org
        covers.append(P.c.agent_id.in_(select(AT.c.agent_id).where(
            AT.c.org == bindparam("b_org"), AT.c.team.in_(bindparam("b_teams", expanding=True)))))
    if ids:
        covers.append((P.c.org == bindparam("b_org")) & P.c.agent_id.in_(bindparam("b_ids", expanding=True)))
    return P.c.active & (or_(*covers) if covers else false())


def _reading(where):
    # Only what the presence object shows: each column more is a conversion per row.
    return select(*OBJECT_COLUMNS, now().label("now")).where(where).order_by(P.c.agent_id)


_covered_reading = functools.cache(_reading)  # for the few statements _covering makes: hot paths build none


def _read(where, params, statement=None):
    rows = db.session.execute(statement if statement is not None else _reading(where), params).all()
    server_time = db.session.scalar(select(now())) if not rows else rows[0].now
    db.session.commit()
    return [_object(r) for r in rows], server_time


def roster(org, status=None, available=None, team=None, interest=None, own_agent_id=None):
    """The presence of an org's agents (those of `interest` and `team`, filtered), with the server time."""
    where, params = covering(org, interest, own_agent_id)
    if status is None and available is None and team is None:
        agents, server_time = _read(where, params, _covered_reading(where))
        return agents, iso(server_time), cursor_of(server_time)
    if status is not None:
        where, params["b_status"] = where & (P.c.status == bindparam("b_status")), status
    if available is not None:
        is_available = (P.c.status == "online") & P.c.websocket_connected
        where = where & (is_available if available else ~is_available)
    if team is not None:
        where = where & P.c.agent_id.in_(select(AT.c.agent_id).where(
            AT.c.org == bindparam("b_org"), AT.c.team == bindparam("b_team")))
        params["b_team"] = team
    agents, server_time = _read(where, params)
    return agents, iso(server_time), cursor_of(server_time)


def changed_since(org, interest, own_agent_id, since):
    """The covered agents changed after `since`, and the ids that left (deactivated, or out of the teams)."""
    where, params = covering(org, interest, own_agent_id)
    after = (P.c.org == bindparam("b_org")) & (P.c.updated_at > bindparam("b_since", type_=DateTime))
    params["b_since"] = since
    agents, server_time = _read(after & where, params)
    left = after & (~P.c.active | and_(P.c.teams_changed_at > bindparam("b_since", type_=DateTime), ~where))
    removed = list(db.session.scalars(select(P.c.agent_id).where(left).order_by(P.c.agent_id), params))
    db.session.commit()
    return agents, removed, iso(server_time), cursor_of(server_time)


def cursor_of(server_time):
    """The opaque cursor of a read made at the database's `server_time` (a naive UTC datetime)."""
    return cursor_at(server_time.replace(tzinfo=UTC).timestamp())


def since_of(cursor, window):
    """The instant a cursor stands for, or None if it is unknown or older than `window` seconds."""
    moment = cursor_instant(cursor)
    if moment is None:
        return None
    moment = datetime.fromtimestamp(moment, UTC).replace(tzinfo=None)
    oldest = db.session.scalar(select(now())) - timedelta(seconds=window) - timedelta(seconds=CURSOR_MARGIN_SECONDS)
    db.session.commit()
    return moment if moment >= oldest else None


def counts(org):
    """The org's numbers and each of its teams', from one grouped read each."""
    active = (P.c.org == org) & P.c.active
    by_org = db.session.execute(select(P.c.status, P.c.websocket_connected, func.count())
                                .where(active).group_by(P.c.status, P.c.websocket_connected)).all()
    by_team = db.session.execute(
        select(AT.c.team, P.c.status, P.c.websocket_connected, func.count())
        .select_from(AT.join(P, P.c.agent_id == AT.c.agent_id)).where(AT.c.org == org, active)
        .group_by(AT.c.team, P.c.status, P.c.websocket_connected)).all()
    server_time = db.session.scalar(select(now()))
    db.session.commit()
    whole, teams = blank(), {}
    for status, connected, n in by_org:
        tally(whole, status, connected, n)
    for team, status, connected, n in by_team:
        tally(teams.setdefault(team, blank()), status, connected, n)
    return {"org": whole, "teams": dict(sorted(teams.items())), "server_time": iso(server_time)}


def states(org):
    """What counts need of each active agent of an org: (agent_id, status, connected, teams, seq)."""
    rows = db.session.execute(select(P.c.agent_id, P.c.status, P.c.websocket_connected, P.c.teams, P.c.seq)
                              .where((P.c.org == org) & P.c.active)).all()
    db.session.commit()
    return [(r.agent_id, r.status, r.websocket_connected, tuple(r.teams.split()), r.seq) for r in rows]


def database_now():
    """The database's time now (a naive UTC datetime)."""
    moment = db.session.scalar(select(now()))
    db.session.commit()
    return moment
