"""One web process's batched deliveries: diff-mode windows and shared roster snapshots, both by interest.

Diff-mode sockets get, once per PRESENCE_BATCH_MS window that had changes they cover, one
`presence_diff` with the latest change of each such agent. Sockets of one interest (the whole org,
or the same teams and agents) form a group: its diff is built and encoded once, and only a
socket whose own agent changed outside its group's interest, or whose roster was built during
the window, gets one of its own. Sockets that connect together with one interest share one
roster build; the first after a quiet spell goes out at once.
"""
import itertools
import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote

from ..extensions import socketio
from ..interest import Interest
from ..keys import key
from ..pacing import awaiting_roster
from ..schemas.base import iso_epoch

log = logging.getLogger(__name__)
PRESENCE_CHANGED = "agent_presence_changed"
# Roster builds of one interest take at most about this share of the process: the larger the roster,
# the longer newcomers wait for the next build (never more than MAX_GAP_SECONDS), and the more share it.
SNAPSHOT_SHARE = 0.2
MAX_GAP_SECONDS = 2.0
RETRY_SECONDS = (0.5, 1, 2, 5)  # a failed shared build is tried again, then every 5 s while its sockets wait


@dataclass
class DiffSocket:
    """A diff-mode socket of this process: whose it is and the group of its interest."""

    org: str
    agent_id: int
    group: tuple  # (org, signature)


def org_of(rooms):
    """The org of a change, from the first of its rooms (interest.change_rooms)."""
    return unquote(rooms[0].split(":", 1)[1])


class Batches:
    """Diff windows and shared snapshots of one app; `emit(event, data, to, skip)` delivers locally."""

    def __init__(self, app, emit, cursor):
        self.app, self.emit, self.cursor = app, emit, cursor
        self.window = app.config["PRESENCE_BATCH_MS"] / 1000
        self.lock = threading.Lock()
        self.changes, self.flushing, self.version = {}, False, 0  # org -> {agent_id: (version, change, rooms)}
        self.sockets, self.groups, self.owners = {}, {}, {}  # sid -> DiffSocket; group -> {sid}; (org, agent) -> {sid}
        self.rooms, self.room_ids = {}, itertools.count(1)  # group -> its Socket.IO room
        self.joined = {}  # sid -> the version its roster covers: its first batch holds only later changes
        self.waiting, self.built_at, self.cost = {}, {}, {}  # by (org, signature)

    def covers_org(self, org):
        """True if a diff-mode socket of this org is here."""
        return any(group[0] == org for group in self.groups)

    def delivered(self, rooms, change):
        """A presence change reached this process: keep it for the diff sockets of its org, if any."""
        org = org_of(rooms)
        with self.lock:
            if not self.covers_org(org):
                return
            latest = self.changes.setdefault(org, {})
            known = latest.get(change["agent_id"])
            if known is None or known[1]["seq"] < change["seq"]:
                self.version += 1
                # Rooms accumulate: sockets that covered the agent before a change of teams hear it too.
                latest[change["agent_id"]] = (self.version, change, frozenset(rooms) | (known[2] if known else set()))
            start, self.flushing = not self.flushing, True
        if start:
            socketio.start_background_task(self._flush_changes)

    def register(self, sid, interest, agent_id, version=None):
        """Put a diff socket in its interest's group (again, after a new subscription)."""
        group = (interest.org, interest.signature())
        with self.lock:
            self._forget(sid)
            self.sockets[sid] = DiffSocket(interest.org, agent_id, group)
            self.groups.setdefault(group, set()).add(sid)
            self.owners.setdefault((interest.org, agent_id), set()).add(sid)
            if version is not None:
                self.joined[sid] = version
            room = self.rooms.get(group)
            if room is None:
                room = self.rooms[group] = key("group", next(self.room_ids))
        socketio.server.enter_room(sid, room)

    def forget(self, sid):
        """A diff socket closed."""
        with self.lock:
            self._forget(sid)

    def _forget(self, sid):
        found = self.sockets.pop(sid, None)
        if found is None:
            return
        self.joined.pop(sid, None)
        socketio.server.leave_room(sid, self.rooms[found.group])
        members = self.groups[found.group]
        members.discard(sid)
        if not members:
            del self.groups[found.group], self.rooms[found.group]
        owned = self.owners[(found.org, found.agent_id)]
        owned.discard(sid)
        if not owned:
            del self.owners[(found.org, found.agent_id)]

    def _flush_changes(self):
        socketio.sleep(self.window)
        with self.lock:
            pending, self.changes, self.flushing = self.changes, {}, False
            plan = [self._plan(org, latest) for org, latest in pending.items()]
        for sends in plan:
            for to, skip, entries in sends:
                self._send_diff(to, skip, entries)

    def _plan(self, org, latest):
        """What each group and odd socket of an org gets this window: [(to, skip, entries)]."""
        by_room = {}
        for entry in latest.values():
            for room in entry[2]:
                by_room.setdefault(room, []).append(entry)
        covered = {}
        for group in (g for g in self.groups if g[0] == org):
            found = covered[group] = {}
            for room in group[1]:
                found.update((entry[1]["agent_id"], entry) for entry in by_room.get(room, ()))
        odd = {}  # sid -> its own agent's change that its group does not cover
        for agent_id, entry in latest.items():
            for sid in self.owners.get((org, agent_id), ()):
                if agent_id not in covered[self.sockets[sid].group]:
                    odd[sid] = entry
        sends = []
        for group, found in covered.items():
            members = self.groups[group]
            apart = [sid for sid in members if sid in odd or sid in self.joined]
            if len(apart) < len(members):
                sends.append((self.rooms[group], apart, list(found.values())))
            for sid in apart:
                since = self.joined.pop(sid, 0)
                mine = list(found.values()) + ([odd[sid]] if sid in odd else [])
                sends.append((sid, None, [entry for entry in mine if entry[0] > since]))
        return sends

    def _send_diff(self, to, skip, entries):
        changes = sorted((entry[1] for entry in entries), key=lambda change: change["agent_id"])
        if changes:
            data = {"changes": changes, "server_time": iso_epoch(time.time()), "cursor": self.cursor()}
            self.emit("presence_diff", data, to, skip)

    def snapshot(self, sid, interest, agent_id, diff, build):
        """Send `sid` its interest's roster (`build(interest)` -> agents, server_time, cursor), shared if it can."""
        group, now = (interest.org, interest.signature()), time.monotonic()
        with self.lock:
            queued = self.waiting.get(group)
            next_at = self.built_at.get(group, -float("inf")) + self._gap(group)
            first = queued is None and now >= next_at
            if first:
                self.built_at[group] = now
            else:
                self.waiting.setdefault(group, []).append((sid, agent_id, diff))
                awaiting_roster(1)
        if first:
            self._build_and_send(interest, [(sid, agent_id, diff)], build)
        elif queued is None:
            socketio.start_background_task(self._flush_snapshot, interest, build, next_at - now)

    def resume(self, sid, interest, agent_id, diff, read):
        """Send `sid` what changed after its cursor (`read()` -> agents, removed, server_time, cursor), its own."""
        if diff:
            self.register(sid, interest, agent_id, version=self.version)
        agents, removed, server_time, cursor = read()
        data = {"agents": agents, "removed": removed, "full": False, "server_time": server_time, "cursor": cursor}
        self.emit("presence_state", data, sid, None)

    def _gap(self, group):
        return max(self.window, min(MAX_GAP_SECONDS, self.cost.get(group, 0.0) / SNAPSHOT_SHARE))

    def _build_and_send(self, interest, waiting, build):
        present = [(sid, agent_id, diff) for sid, agent_id, diff in waiting if here(sid)]
        for sid, agent_id, diff in present:
            if diff:  # before the build: what its roster may miss comes after this version
                self.register(sid, interest, agent_id, version=self.version)
        started = time.monotonic()
        agents, server_time, cursor = build(interest)
        self.cost[(interest.org, interest.signature())] = time.monotonic() - started
        data = {"agents": agents, "server_time": server_time, "cursor": cursor}
        shown = {agent["agent_id"] for agent in agents}
        missing = sorted({agent_id for _, agent_id, _ in present if agent_id not in shown})
        own = {agent["agent_id"]: agent for agent in build(Interest(interest.org, frozenset(), frozenset(missing)))[0]
               } if missing else {}
        together = [sid for sid, agent_id, _ in present if agent_id not in own]
        self.emit("presence_state", data, together, None)
        for sid, agent_id, _ in present:
            if agent_id in own:  # its own agent, which its interest does not cover
                mine = sorted(agents + [own[agent_id]], key=lambda agent: agent["agent_id"])
                self.emit("presence_state", dict(data, agents=mine), sid, None)

    def _flush_snapshot(self, interest, build, delay, attempt=0):
        socketio.sleep(max(0.0, delay))
        group = (interest.org, interest.signature())
        with self.lock:
            waiting = self.waiting.pop(group, [])
            self.built_at[group] = time.monotonic()
        with self.app.app_context():
            try:
                self._build_and_send(interest, waiting, build)
            except Exception as exc:  # noqa: BLE001 - its sockets wait: try again shortly
                log.warning("roster snapshot of %s sockets failed (%s); retrying", len(waiting), exc)
                self._retry(interest, build, waiting, attempt)
            finally:
                awaiting_roster(-len(waiting))

    def _retry(self, interest, build, waiting, attempt):
        alive = [entry for entry in waiting if here(entry[0])]
        if not alive:
            return
        group = (interest.org, interest.signature())
        with self.lock:
            queued = self.waiting.get(group)
            self.waiting.setdefault(group, []).extend(alive)
            awaiting_roster(len(alive))
        if queued is None:
            delay = RETRY_SECONDS[min(attempt, len(RETRY_SECONDS) - 1)]
            socketio.start_background_task(self._flush_snapshot, interest, build, delay, attempt + 1)


def here(sid):
    """The socket is connected to this process (or connecting: its connect handler is running)."""
    manager = socketio.server.manager
    return manager.is_connected(sid, "/") or manager.is_pre_connected(sid, "/")
