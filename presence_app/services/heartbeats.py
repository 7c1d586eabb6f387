"""Group commit of heartbeats: those that arrive together share one transaction and one UPDATE.

Each caller queues its identity and waits. The first to find no flush running leads: it yields
once so that heartbeats arriving in the same instant join, takes the whole queue, writes it with
one `UPDATE presence ... WHERE agent_id IN (...) RETURNING` (timed-out agents are resumed
by one `change()`), commits, announces, and hands every waiter its row, or the same error. Then
it promotes the next waiter, if any, to lead the next group. Nobody waits for a timer: alone, a
heartbeat is written at once; under load, groups grow by themselves.
"""
import threading

from flask import current_app
from sqlalchemy import bindparam, update

from ..dbtime import now
from ..errors import ServiceUnavailable
from ..extensions import db, socketio
from .transitions import OBJECT_COLUMNS, OWN, P, change, finish, resume_values

_EXT = "presence_heartbeats"
WAIT_SECONDS = 8  # a heartbeat queued behind a leader the database holds answers 503 after this
# Active agents only: a deactivated one is not found, and its caller's slow path refuses it.
_IDS = P.c.agent_id.in_(bindparam("ids", expanding=True)) & P.c.active
_ALIVE = {"last_seen": now(), "last_heartbeat": now()}
# Built once: only the list of ids changes from one group to the next. It returns what the
# presence object shows, not every column (each one costs a conversion per row).
_TOUCH = update(P).where(_IDS & ~P.c.timed_out).values(**_ALIVE).returning(*OBJECT_COLUMNS, now().label("now"))


class _Waiter:
    """One queued heartbeat: its identity, then its row or its error."""

    __slots__ = ("identity", "ready", "done", "row", "error")

    def __init__(self, identity):
        self.identity, self.ready, self.done, self.row, self.error = identity, threading.Event(), False, None, None


class GroupCommit:
    """The queue of one app's heartbeats and the leader/follower hand-off."""

    def __init__(self):
        self.lock, self.queue, self.leading = threading.Lock(), [], False

    def submit(self, identity):
        """Write a heartbeat of `identity` with whatever group it joins; return its presence row."""
        waiter = _Waiter(identity)
        with self.lock:
            self.queue.append(waiter)
            lead = not self.leading
            self.leading = True
        if not lead and not waiter.ready.wait(WAIT_SECONDS) and self._give_up(waiter):
            raise ServiceUnavailable("the database is not answering; try again shortly")
        if not waiter.done:  # first in, or promoted by the previous leader
            self._lead()
        if waiter.error is not None:
            raise waiter.error
        return waiter.row

    def _give_up(self, waiter):
        """A waiter behind a stuck leader leaves the queue, unless it was promoted meanwhile."""
        with self.lock:
            if waiter.ready.is_set():
                return False
            if waiter in self.queue:
                self.queue.remove(waiter)
            return True

    def _lead(self):
        socketio.sleep(0)  # heartbeats of this instant join the group
        with self.lock:
            group, self.queue = self.queue, []
        try:
            _write(group)
        finally:
            for waiter in group:
                waiter.done = True
                waiter.ready.set()
            with self.lock:
                if self.queue:
                    self.queue[0].ready.set()  # not done: it leads the next group
                else:
                    self.leading = False


def _write(group):
    """One transaction for the group; every waiter gets its row, or the failure."""
    ids = list({w.identity.agent_id for w in group})
    try:
        rows = {r.agent_id: r for r in db.session.execute(_TOUCH, {"ids": ids})}
        late = [agent_id for agent_id in ids if agent_id not in rows]
        resumed = change(_IDS & P.c.timed_out, dict(resume_values(), **_ALIVE), "resumed", actor=OWN,
                         params={"ids": late}) if late else []
        rows.update((r.agent_id, r) for r in resumed)
        finish(changed=resumed)
    except Exception as exc:  # noqa: BLE001 - every member of the group gets the failure
        db.session.rollback()
        for waiter in group:
            waiter.error = exc
        return
    for waiter in group:
        row = rows.get(waiter.identity.agent_id)
        # Ids are global and ensure_agent pinned each to its org; a row of another org is never
        # handed out (the caller's own path then refuses the token).
        waiter.row = row if row is not None and row.org == waiter.identity.org else None


def submit(identity):
    """Queue a heartbeat in the current app's group commit; return the presence row, or None if missing."""
    batcher = current_app.extensions.get(_EXT)
    if batcher is None:
        batcher = current_app.extensions.setdefault(_EXT, GroupCommit())
    return batcher.submit(identity)
