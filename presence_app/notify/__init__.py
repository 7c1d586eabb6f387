"""The only caller of socketio.emit: event names, rooms, the envelope, who hears what, and batched delivery.

A presence change goes once to the rooms of everyone whose interest covers its agent (its org's,
its teams' before and after, its watch room: `interest.change_rooms`), and each process delivers
it to its own sockets there: v1 sockets hear it at once (held while a herd comes in:
`pacing.after_connects`); diff-mode sockets get it in their group's next `presence_diff`
(`batches`); counts sockets see it in their next `presence_counts` (`counts`).
"""
import logging
import time
from datetime import UTC

from flask import current_app

from .. import metrics
from ..extensions import socketio
from ..interest import change_rooms, org_room
from ..keys import key
from ..pacing import after_connects
from ..schemas.base import iso
from ..schemas.presence import change_event, cursor_at
from ..schemas.typing import typing_event
from .batches import Batches, here, org_of
from .counts import Counts

VERSION = "v1"
PRESENCE_CHANGED = "agent_presence_changed"
PRESENCE_DIFF = "presence_diff"
PRESENCE_STATE = "presence_state"
PRESENCE_COUNTS = "presence_counts"
TYPING_START = "typing_start"
TYPING_STOP = "typing_stop"
SESSION_EXPIRED = "session_expired"
STATUS_OVERRUN = "agent_status_overrun"
_HUB = "presence_hub"
log = logging.getLogger(__name__)


def agent_room(org, agent_id):
    """Room of one agent's sockets, across tabs and processes."""
    return key("agent", org, agent_id)


def supervisor_room(org):
    """Room of an org's supervisors' sockets: overrun alerts go here."""
    return key("supervisors", org)


def chat_room(org, chat_id):
    """Room of a chat; scoped by org so a chat id never crosses tenants."""
    return key("chat", org, chat_id)


def envelope(event, data):
    """The origin's envelope around an event's data."""
    return {"event": event, "data": data, "version": VERSION}


def _emit(event, payload, **options):
    metrics.emitted(event)
    socketio.emit(event, payload, **options)


def _emit_here(event, data, to, skip=None):
    """Deliver an event to sockets of this process only (batches and counts are per process)."""
    if not to:
        return  # an empty list of sockets would mean everyone to python-socketio
    _emit(event, envelope(event, data), to=to, skip_sid=skip or None, ignore_queue=True)


def presence_changed(rows):
    """Announce committed presence changes to every socket whose interest covers each agent."""
    for row in sorted(rows, key=lambda r: (r.agent_id, r.seq)):
        previous = row.previous_teams.split() if getattr(row, "previous_teams", None) else ()
        rooms = change_rooms(row.org, row.agent_id, row.teams.split(), previous)
        _emit(PRESENCE_CHANGED, envelope(PRESENCE_CHANGED, change_event(row)), to=rooms)


def typing(event, rows):
    """Announce committed typing starts or stops to each chat's room."""
    for row in rows:
        _emit(event, envelope(event, typing_event(row)), to=chat_room(row.org, row.chat_id))


def follow(sid, interest, agent_id, diff, previous=None):
    """Route presence changes of `interest` to a socket (again, with `previous` interest, after presence_sub).

    A v1 newcomer joins its rooms after the announcements held before it (they are in its roster);
    a diff-mode newcomer joins its group as its roster is built (presence_state), so only later.
    """
    hub = _hub()
    if diff:
        if previous is not None:
            hub.batches.register(sid, interest, agent_id)
        return
    rooms = interest.rooms(agent_id) if not interest.whole_org else [org_room(interest.org)]
    if previous is not None:
        old = previous.rooms(agent_id) if not previous.whole_org else [org_room(previous.org)]
        for room in set(old) - set(rooms):
            socketio.server.leave_room(sid, room)
        for room in rooms:
            socketio.server.enter_room(sid, room)
        return
    if not after_connects(lambda: here(sid) and [socketio.server.enter_room(sid, room) for room in rooms]):
        for room in rooms:
            socketio.server.enter_room(sid, room)


def presence_state(sid, interest, agent_id, diff, build):
    """Send a socket that just connected the roster of its interest (`build(interest)` -> agents, time, cursor)."""
    _hub().batches.snapshot(sid, interest, agent_id, diff, build)


def resumed_state(sid, interest, agent_id, diff, read):
    """Send a socket that came back with a cursor only what changed after it (`read()` -> agents, removed, ...)."""
    _hub().batches.resume(sid, interest, agent_id, diff, read)


def counts(sid, org, teams, loader):
    """Push `presence_counts` of `org` (and of `teams`, or all its teams if None) to a socket from now on."""
    _hub().counts.add(sid, org, teams, loader)


def forget(sid):
    """A socket closed (or stopped wanting counts and batches)."""
    hub = _hub()
    hub.batches.forget(sid)
    hub.counts.remove(sid)


def stop(app):
    """The process is stopping: its periodic pushes end."""
    hub = app.extensions.get(_HUB)
    if hub is not None:
        hub.counts.stop()


def no_counts(sid):
    """A socket no longer wants counts."""
    _hub().counts.remove(sid)


def database_time(now):
    """The database's time just read (a naive UTC datetime): this process's clock offset to it, for cursors."""
    hub = current_app.extensions.get(_HUB)
    if hub is not None:
        hub.offset = now.replace(tzinfo=UTC).timestamp() - time.time()


def session_expired(sid, expired_at):
    """Tell one socket its token has expired (it is disconnected next)."""
    _emit(SESSION_EXPIRED, envelope(SESSION_EXPIRED, {"expired_at": expired_at}), to=sid)


def close_sockets(sids):
    """Close sockets by sid; one of another process is closed there (the message queue carries the close)."""
    for sid in sids:
        socketio.server.disconnect(sid, namespace="/")


def status_overrun(rows):
    """Tell each org's supervisors of statuses that outlasted their reason code's max_minutes."""
    for row in rows:
        data = {"agent_id": row.agent_id, "name": row.name, "status": row.status, "reason_code": row.reason_code,
                "since": iso(row.code_since), "max_minutes": row.max_minutes}
        _emit(STATUS_OVERRUN, envelope(STATUS_OVERRUN, data), to=supervisor_room(row.org))


def init_app(app, manager):
    """Give the app its hub, fed by its Socket.IO manager's local deliveries."""
    app.extensions[_HUB] = manager.observer = Hub(app)


def _hub():
    return current_app.extensions[_HUB]


class Hub:
    """What one web process does with each delivery to its sockets: batches, counts, and holding v1 news."""

    def __init__(self, app):
        self.offset = 0.0
        self.batches = Batches(app, _emit_here, self.cursor)
        self.counts = Counts(app, _emit_here)

    def cursor(self):
        """A cursor for now, by this process's clock corrected to the database's."""
        return cursor_at(time.time() + self.offset)

    def delivered(self, event, room, payload, _local_rooms):
        """A delivery to this process's sockets: feed each presence change to the batches and counts."""
        if event != PRESENCE_CHANGED or not isinstance(room, list):
            return
        change = payload["data"]
        self.batches.delivered(room, change)
        self.counts.delivered(org_of(room), change)

    def held(self, event, room, deliver):
        """Hold an announcement to this process's v1 sockets while a herd comes in (pacing); True if held."""
        return event == PRESENCE_CHANGED and isinstance(room, list) and after_connects(deliver)
