"""Hearing agents: a timeout counts only from the moment the service could hear agents again.

While the database, the worker, the scheduler or a web process could not hear agents, their
heartbeats failed or went unrecorded: that silence is not theirs. Whoever notices such a gap
moves `heard_since` to now, and nobody is timed out for silence older than `heard_since`:
- the sweep, when it runs later than its period allows (no worker, no scheduler, no database);
- a web process, when its beat comes later than PROCESS_DEAD_SECONDS (a database outage, a pause);
- the reaper, for web processes, when its own passes come more than two periods apart (`reaping`);
- and the sweep skips a pass while a registered web process is that late, so that it never runs
  between a database's return and the first beat that notices the gap.
"""
from datetime import datetime

from sqlalchemy import case, exists, func, select, update

from ..dbtime import now, seconds_ago
from ..extensions import db
from ..models import Hearing, WebProcess
from .transitions import insert_new

H = Hearing.__table__
W = WebProcess.__table__
ROW = H.c.id == 1
EPOCH = datetime(1970, 1, 1)
SLACK_SECONDS = 5  # how late a sweep may run (scheduler polls, queueing) before it counts as a gap


def heard_since():
    """SQL: since when the service has heard agents without a gap."""
    return func.coalesce(select(H.c.heard_since).where(ROW).scalar_subquery(), EPOCH)


def heard_again():
    """Something could not hear agents for a while: count every timeout from now."""
    if not db.session.execute(update(H).where(ROW).values(heard_since=now())).rowcount:
        db.session.execute(insert_new(H, id=1, heard_since=now(), swept_at=None))


def sweeping(period):
    """Record a sweep; one later than `period` (+ slack) since the last means nobody swept: count from now."""
    late = H.c.swept_at < seconds_ago(period + SLACK_SECONDS)
    values = {"swept_at": now(), "heard_since": case((late, now()), else_=H.c.heard_since)}
    if not db.session.execute(update(H).where(ROW).values(**values)).rowcount:
        db.session.execute(insert_new(H, id=1, heard_since=EPOCH, swept_at=now()))


def reaping(period):
    """Record a reaper pass; one later than two periods since the last (or the first) restarts its clock.

    A process that missed its beats because the database was away missed them while the reaper's
    passes failed too: silent for 3 beats means a gap of more than 2 in the reaper's passes.
    """
    late = H.c.reaped_at.is_(None) | (H.c.reaped_at < seconds_ago(2 * period))
    values = {"reaped_at": now(), "reaping_since": case((late, now()), else_=H.c.reaping_since)}
    if not db.session.execute(update(H).where(ROW).values(**values)).rowcount:
        db.session.execute(insert_new(H, id=1, heard_since=EPOCH, swept_at=None, reaped_at=now(), reaping_since=now()))


def reaping_since():
    """SQL: since when the reaper has run without a gap."""
    return func.coalesce(select(H.c.reaping_since).where(ROW).scalar_subquery(), now())


def a_process_is_late(dead_after):
    """True if a registered web process has not beaten for `dead_after` (it may not have heard agents)."""
    return db.session.scalar(select(exists().where(W.c.beat_at < seconds_ago(dead_after))))
