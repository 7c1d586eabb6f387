"""Statuses with a deadline: expiring statuses return to what they replaced; reason codes overrun once."""
from sqlalchemy import case, func, literal, select, text, update

from .. import notify
from ..dbtime import now, seconds_ahead
from ..errors import ValidationError
from ..extensions import db
from ..models import ReasonCode
from . import outbox
from .transitions import P, change, differs, finish, new_state, stop_typing_of

RC = ReasonCode.__table__
MAX_AHEAD = 24 * 3600
# Written exactly as the partial indexes' predicates (models.py), so that the sweeps use them.
EXPIRING = text("status_until IS NOT NULL")
OVERRUN_PENDING = text("reason_code IS NOT NULL AND NOT overrun_announced")
CLEARED = {"status_until": None, "revert_status": None, "revert_message": None, "revert_reason_code": None}


def status_until(until):
    """The deadline `until` of a set-status, once checked to lie ahead by the database's clock."""
    ahead = (until - db.session.scalar(select(now()))).total_seconds()
    if not 0 < ahead <= MAX_AHEAD:
        problem = "must be in the future" if ahead <= 0 else "must be at most 24 hours ahead"
        raise ValidationError(f"until {problem}", {"until": [problem]})
    return until


def expiry_values(deadline):
    """SET clauses of a set-status: a deadline and what to return to, or no deadline at all."""
    if deadline is None:
        return dict(CLEARED)
    # A second expiring status while one runs moves the deadline and keeps the state to return to.
    # Over a timeout's offline it returns to what the timeout took: what the agent would have, alive.
    running, timed_out = P.c.status_until.is_not(None), P.c.timed_out
    return {"status_until": deadline,
            "revert_status": case((running, P.c.revert_status),
                                  (timed_out, func.coalesce(P.c.resume_status, "online")), else_=P.c.status),
            "revert_message": case((running, P.c.revert_message),
                                   (timed_out, func.coalesce(P.c.resume_message, "")), else_=P.c.status_message),
            "revert_reason_code": case((running, P.c.revert_reason_code),
                                       (timed_out, P.c.resume_reason_code), else_=P.c.reason_code)}


def expire_statuses():
    """The expiry sweep: each expiring status that passed returns to the state it replaced (reason expired)."""
    # One instant for both statements (the database's now moves between them): a deadline passing in
    # between would otherwise be cleared below without being applied.
    cutoff = db.session.scalar(select(now()))
    # A timed-out agent's deadline waits: the timeout owns that state until the agent resumes.
    due = EXPIRING & (P.c.status_until <= cutoff) & ~P.c.timed_out
    back = (P.c.revert_status, P.c.revert_message, P.c.revert_reason_code)
    rows = change(due & differs(*back), dict(new_state(*back), **CLEARED), "expired")
    db.session.execute(update(P).where(due).values(**CLEARED))  # already in that state: nothing to announce
    finish(changed=rows, stopped=stop_typing_of([r.agent_id for r in rows if r.status == "offline"]))
    return len(rows)


def announce_overruns():
    """The overrun sweep: tell supervisors, once, of each status that outlasted its code's max_minutes."""
    limit = (select(RC.c.max_minutes).where(RC.c.org == P.c.org, RC.c.code == P.c.reason_code)
             .correlate(P).scalar_subquery())
    stmt = (
        update(P).where(OVERRUN_PENDING & (P.c.code_since <= seconds_ahead(literal(-60.0) * limit)))
        .values(overrun_announced=True)
        .returning(P.c.agent_id, P.c.org, P.c.name, P.c.status, P.c.reason_code, P.c.code_since,
                   limit.label("max_minutes"))
    )
    rows = db.session.execute(stmt).all()
    outbox.record_overruns(rows)
    db.session.commit()
    notify.status_overrun(rows)
    return len(rows)
