"""The only caller of socketio.emit: event names, rooms, the envelope, and batched delivery.

Two kinds of delivery are batched per web process, per org and per window of
PRESENCE_BATCH_MS: the changes its diff-mode sockets receive (one `presence_diff` with the
latest change of each agent), and the roster snapshot of sockets that connect together (built
once, encoded once, sent to each). The first snapshot after a quiet window goes out at once.
While a herd connects, announcements to v1 sockets wait for it (`pacing.after_connects`).
"""
import logging
import threading
import time
from urllib.parse import unquote

from . import metrics
from .extensions import socketio
from .keys import key
from .pacing import after_connects, awaiting_roster
from .schemas.base import iso, iso_epoch
from .schemas.presence import change_event
from .schemas.typing import typing_event

VERSION = "v1"
PRESENCE_CHANGED = "agent_presence_changed"
PRESENCE_DIFF = "presence_diff"
PRESENCE_STATE = "presence_state"
TYPING_START = "typing_start"
TYPING_STOP = "typing_stop"
SESSION_EXPIRED = "session_expired"
STATUS_OVERRUN = "agent_status_overrun"
_BATCHES = "presence_batches"
# Roster builds of one org take at most about this share of the process: the larger the org,
# the longer newcomers wait for the next build, and the more of them share it.
SNAPSHOT_SHARE = 0.2
log = logging.getLogger(__name__)


def org_room(org):
    """Room of an org's v1 sockets: each presence change goes here as it happens."""
    return key("org", org)


def diff_room(org):
    """Room of an org's diff-mode sockets: the changes of each window go here together."""
    return key("diff", org)


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


def presence_changed(rows):
    """Announce committed presence changes to each agent's org (diff-mode sockets get them batched)."""
    for row in sorted(rows, key=lambda r: (r.agent_id, r.seq)):
        _emit(PRESENCE_CHANGED, envelope(PRESENCE_CHANGED, change_event(row)), to=org_room(row.org))


def typing(event, rows):
    """Announce committed typing starts or stops to each chat's room."""
    for row in rows:
        _emit(event, envelope(event, typing_event(row)), to=chat_room(row.org, row.chat_id))


def join_org(sid, org):
    """A v1 socket joins its org's room, after the announcements held before it (they are in its roster)."""
    room = org_room(org)
    if not after_connects(lambda: _here(sid) and socketio.server.enter_room(sid, room)):
        socketio.server.enter_room(sid, room)


def presence_state(app, sid, org, build, diff=False):
    """Send the org's roster (`build()` -> agents, server_time) to a socket that just connected.

    A diff-mode socket joins its org's diff room as its roster is built, and its first batch holds
    only the changes after that point: what came before, its roster holds already.
    """
    app.extensions[_BATCHES].snapshot(sid, org, build, diff)


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
    """Give the app its batches, fed by its Socket.IO manager's local deliveries."""
    app.extensions[_BATCHES] = manager.observer = Batches(app)


class Batches:
    """One web process's batched deliveries: diff-mode changes and shared snapshots."""

    def __init__(self, app):
        self.app, self.window = app, app.config["PRESENCE_BATCH_MS"] / 1000
        self.lock = threading.Lock()
        self.changes, self.flushing = {}, False  # diff room -> {agent_id: (version, latest change data)}
        # Every kept change gets the next version; a socket joining a diff room notes the version its
        # roster covers, and its first batch holds only the changes after it.
        self.version, self.joined = 0, {}  # diff room -> {sid: version its roster covers}
        self.waiting, self.built_at = {}, {}  # org -> [(sid, diff)], org -> when its snapshot was last built
        self.cost = {}  # org -> seconds its last snapshot took to build

    def delivered(self, event, room, payload, local_rooms):
        """A local delivery happened: keep a presence change for this process's diff sockets of its org."""
        if event != PRESENCE_CHANGED or not room or not room.startswith("org:"):
            return
        target = diff_room(unquote(room[len("org:"):]))
        if not local_rooms.get(target):
            return  # no diff-mode socket of that org here
        change = payload["data"]
        with self.lock:
            latest = self.changes.setdefault(target, {})
            known = latest.get(change["agent_id"])
            if known is None or known[1]["seq"] < change["seq"]:
                self.version += 1
                latest[change["agent_id"]] = (self.version, change)
            start, self.flushing = not self.flushing, True
        if start:
            socketio.start_background_task(self._flush_changes)

    def held(self, event, room, deliver):
        """Hold an announcement to this process's v1 sockets while a herd comes in (pacing); True if held."""
        return event == PRESENCE_CHANGED and room is not None and room.startswith("org:") and after_connects(deliver)

    def _flush_changes(self):
        socketio.sleep(self.window)
        with self.lock:
            pending, self.changes, self.flushing = self.changes, {}, False
            joined = {room: self.joined.pop(room) for room in pending if room in self.joined}
        for room, latest in pending.items():
            fresh = joined.get(room, {})
            _send_diff(room, latest.values(), skip=list(fresh))
            for covered in set(fresh.values()):
                _send_diff([sid for sid, v in fresh.items() if v == covered],
                           [(v, change) for v, change in latest.values() if v > covered])

    def snapshot(self, sid, org, build, diff):
        """Send `sid` its org's roster: at once after a quiet spell, else with the next shared build."""
        now = time.monotonic()
        with self.lock:
            queued = self.waiting.get(org)
            next_at = self.built_at.get(org, -float("inf")) + self._gap(org)
            first = queued is None and now >= next_at
            if first:
                self.built_at[org] = now
            else:
                self.waiting.setdefault(org, []).append((sid, diff))
                awaiting_roster(1)
        if first:
            self._build_and_send(org, [(sid, diff)], build)
        elif queued is None:
            socketio.start_background_task(self._flush_snapshot, org, build, next_at - now)

    def _gap(self, org):
        return max(self.window, self.cost.get(org, 0.0) / SNAPSHOT_SHARE)

    def _build_and_send(self, org, waiting, build):
        joining = [sid for sid, diff in waiting if diff and _here(sid)]
        if joining:
            room = diff_room(org)
            with self.lock:  # before the build: what its roster may miss comes after this version
                self.joined.setdefault(room, {}).update(dict.fromkeys(joining, self.version))
            for sid in joining:
                socketio.server.enter_room(sid, room)
        started = time.monotonic()
        agents, server_time = build()
        self.cost[org] = time.monotonic() - started
        _send_state([sid for sid, _ in waiting], agents, server_time)

    def _flush_snapshot(self, org, build, delay):
        socketio.sleep(max(0.0, delay))
        with self.lock:
            waiting = self.waiting.pop(org, [])
            self.built_at[org] = time.monotonic()
        with self.app.app_context():
            try:
                self._build_and_send(org, waiting, build)
            except Exception as exc:  # noqa: BLE001 - they can still ask with sync {}
                log.warning("roster snapshot of %s sockets failed: %s", len(waiting), exc)
            finally:
                awaiting_roster(-len(waiting))


def _here(sid):
    """The socket is connected to this process (or connecting: its connect handler is running)."""
    manager = socketio.server.manager
    return manager.is_connected(sid, "/") or manager.is_pre_connected(sid, "/")


def _send_diff(to, kept, skip=None):
    """One presence_diff of the kept (version, change) pairs, by agent id, if any."""
    changes = sorted((change for _, change in kept), key=lambda change: change["agent_id"])
    if changes:
        data = {"changes": changes, "server_time": iso_epoch(time.time())}
        _emit(PRESENCE_DIFF, envelope(PRESENCE_DIFF, data), to=to, skip_sid=skip or None, ignore_queue=True)


def _send_state(sids, agents, server_time):
    # One emit to a room of the waiting sockets: the roster is encoded once, however many wait.
    payload = envelope(PRESENCE_STATE, {"agents": agents, "server_time": server_time})
    if len(sids) == 1:
        _emit(PRESENCE_STATE, payload, to=sids[0], ignore_queue=True)
        return
    manager, room = socketio.server.manager, key("snapshot", sids[0])
    here = [sid for sid in sids if manager.is_connected(sid, "/")]
    for sid in here:
        socketio.server.enter_room(sid, room)
    _emit(PRESENCE_STATE, payload, to=room, ignore_queue=True)
    for sid in here:
        socketio.server.leave_room(sid, room)
