"""Primitives every rule is built from: one conditional write, the ledger, commit then notify."""
import functools

from sqlalchemy import String, bindparam, case, delete, func, insert, literal, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from .. import keys, metrics, notify
from ..dbtime import now
from ..extensions import db
from ..models import Connection, Presence, PresenceChange, TypingIndicator
from . import outbox

P = Presence.__table__
T = TypingIndicator.__table__
C = Connection.__table__

L = PresenceChange.__table__
LEDGER = insert(L)
OWN = object()  # change()'s actor: each changed row's own agent
# One active agent of one org, by bound parameters (b_agent, b_org): the WHERE of prepared statements.
# (SQLAlchemy keeps a column's own name for its SET and VALUES parameters.) A deactivated agent's row
# is not found, which sends its caller down the slow path that checks the agent again (a 401).
MINE = (P.c.agent_id == bindparam("b_agent")) & (P.c.org == bindparam("b_org")) & P.c.active

# What the presence object shows (schemas.presence_object), and org for the tenancy check.
OBJECT_COLUMNS = (P.c.agent_id, P.c.org, P.c.name, P.c.status, P.c.status_message, P.c.last_heartbeat,
                  P.c.websocket_connected, P.c.connections, P.c.status_changed_at, P.c.last_seen, P.c.seq,
                  P.c.reason_code, P.c.status_until, P.c.timed_out, P.c.teams, P.c.open_chats, P.c.capacity,
                  P.c.last_assigned_at)

# Written exactly as the partial indexes' predicates (models.py), so that both
# PostgreSQL and SQLite use those indexes for the sweeps.
EXPIRY_CANDIDATE = text("status <> 'offline' AND connections = 0")
UNSETTLED = text("websocket_connected AND connections = 0")


def live_count():
    """SQL: how many live sockets the presence row's agent has."""
    return select(func.count()).where(C.c.agent_id == P.c.agent_id).scalar_subquery()


def insert_new(table, **values):
    """INSERT that skips a row whose key exists already (PostgreSQL and SQLite alike)."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).values(**values).on_conflict_do_nothing()


def take_turn(*resource):
    """Writers of one resource take turns until this transaction ends (SQLite's writers always do)."""
    # For a write that is no single conditional UPDATE (a list replaced whole): under READ COMMITTED
    # a second DELETE does not see the first's INSERT, and the INSERTs clash.
    if db.engine.dialect.name == "postgresql":
        db.session.execute(_turn(), {"b_key": keys.key(*resource)})


@functools.cache
def _turn():
    return text("SELECT pg_advisory_xact_lock(hashtextextended(:b_key, 0))")


def resume_values():
    """SET clauses that restore what a timeout took, where it took something."""
    # The reason code's clock (code_since) keeps running: the timeout was a gap in hearing, not a new status.
    return {
        "status": case((P.c.timed_out, func.coalesce(P.c.resume_status, "online")), else_=P.c.status),
        "status_message": case((P.c.timed_out, func.coalesce(P.c.resume_message, "")), else_=P.c.status_message),
        "reason_code": case((P.c.timed_out, P.c.resume_reason_code), else_=P.c.reason_code),
        "status_changed_at": case((P.c.timed_out, now()), else_=P.c.status_changed_at),
        "timed_out": False,
        "resume_status": None,
        "resume_message": None,
        "resume_reason_code": None,
    }


def new_state(status, message, reason_code):
    """SET clauses that put a row in a state (values or SQL), restarting the clocks of what changed."""
    status_moves = P.c.status != status
    code_moves = status_moves | P.c.reason_code.is_distinct_from(reason_code)
    return {
        "status": status, "status_message": message, "reason_code": reason_code,
        "status_changed_at": case((status_moves, now()), else_=P.c.status_changed_at),
        "code_since": case((code_moves, now()), else_=P.c.code_since),
        "overrun_announced": case((code_moves, False), else_=P.c.overrun_announced),
        "idle_away": False,
    }


def differs(status, message, reason_code):
    """SQL: the row's visible state is not (status, message, reason_code)."""
    return (P.c.status != status) | (P.c.status_message != message) | P.c.reason_code.is_distinct_from(reason_code)


def changing(where, values, reason, previous_teams=None):
    """The UPDATE ... RETURNING of one real change of every row matching `where`.

    Each returned row carries `previous_teams` too: the teams whose subscribers heard of the agent
    before (notify routes the change to them as well); only a change of teams names them.
    """
    previous = P.c.teams if previous_teams is None else literal(previous_teams, String)
    return (
        update(P).where(where)
        .values(previous_status=P.c.status, seq=P.c.seq + 1, change_reason=reason, changed_at=now(),
                updated_at=now(), **values)
        .returning(*P.c, now().label("now"), previous.label("previous_teams"))
    )


def apply(statement, params=None, actor=None):
    """Run a change statement (see changing); record each changed row in the ledger and the outbox; return them.

    `actor` is an agent id, None for the system, or OWN: each row's own agent (a group of resumes).
    """
    rows = db.session.execute(statement, params or {}).all()
    if rows:
        db.session.execute(LEDGER, [
            {"agent_id": r.agent_id, "org": r.org, "seq": r.seq, "from_status": r.previous_status,
             "to_status": r.status, "message": r.status_message, "reason": r.change_reason,
             "reason_code": r.reason_code, "websocket_connected": r.websocket_connected, "at": r.changed_at,
             "actor_id": r.agent_id if actor is OWN else actor}
            for r in rows
        ])
        outbox.record_changes(rows)  # the webhook events commit with the change, or not at all
    return rows


def change(where, values, reason, actor=None, params=None):
    """Apply one real change to every row matching `where`; record it, by `actor`, and return them."""
    return apply(changing(where, values, reason), params, actor)


def touching(where, values):
    """The UPDATE ... RETURNING of bookkeeping that is not broadcast (liveness, counts)."""
    return update(P).where(where).values(**values).returning(*P.c, now().label("now"))


def touch(where, **values):
    """Update bookkeeping that is not broadcast; return the row or None."""
    return db.session.execute(touching(where, values)).first()


def prepared(build):
    """`build()` once per database dialect, on first use: for the statements of hot paths.

    Building a statement and its cache key costs more than running it (a connect ran five):
    a prepared one is built once and SQLAlchemy reuses its compiled form.
    """
    built = {}

    @functools.wraps(build)
    def statement():
        dialect = db.engine.dialect.name
        if dialect not in built:
            built[dialect] = build()
        return built[dialect]

    return statement


def take_typing(where):
    """Delete the typing indicators matching `where` and return them for typing_stop."""
    stmt = delete(T).where(where).returning(T.c.agent_id, T.c.chat_id, T.c.org, T.c.name, now().label("at"))
    return db.session.execute(stmt).all()


def finish(changed=(), started=(), stopped=()):
    """Commit, then announce what the transaction really changed."""
    db.session.commit()
    metrics.transitions(changed)
    notify.presence_changed(changed)
    notify.typing(notify.TYPING_STOP, stopped)
    notify.typing(notify.TYPING_START, started)


def stop_typing_of(agent_ids):
    """Take the indicators of agents that went offline or lost their last socket."""
    return db.session.execute(_take_typing_of(), {"b_agents": list(agent_ids)}).all() if agent_ids else []


@prepared
def _take_typing_of():
    return delete(T).where(T.c.agent_id.in_(bindparam("b_agents", expanding=True))).returning(
        T.c.agent_id, T.c.chat_id, T.c.org, T.c.name, now().label("at"))
