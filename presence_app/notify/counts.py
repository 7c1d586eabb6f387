"""Counts pushed to sockets that ask for them: kept in memory per org from the changes this process hears.

An org's numbers are read once, when its first counts socket arrives here (and again every
REBASE_SECONDS, for agents created or changed while this process could not hear them); after
that every `agent_presence_changed` reaching the process updates them, newest `seq` winning. No
query per push: every COUNTS_INTERVAL_MS the orgs whose numbers moved send `presence_counts` to
each group of sockets (same org, same teams) whose numbers changed since its last push. While a
herd comes in (pacing), every connect moves the org's numbers: pushes then wait up to
HERD_HOLD_SECONDS, or a herd of N would cost N pushes a second for as long as it lasts.
"""
import logging
import threading
import time

from ..extensions import socketio
from ..pacing import herd_coming_in
from ..schemas.base import iso_epoch
from ..schemas.presence import blank, tally

log = logging.getLogger(__name__)
REBASE_SECONDS = 60
HERD_HOLD_SECONDS = 5.0


class OrgCounts:
    """One org's agents as counts see them: {agent_id: (status, connected, teams, seq)} and the totals."""

    def __init__(self):
        self.agents, self.ready, self.early, self.dirty, self.loaded_at = {}, False, [], True, 0.0
        self.whole, self.teams = blank(), {}

    def load(self, states):
        """Take a fresh read of the org's agents, keeping any change newer than it."""
        known = self.agents
        self.agents = {}
        for agent_id, status, connected, teams, seq in states:
            mine = known.get(agent_id)
            self.agents[agent_id] = mine if mine is not None and mine[3] > seq else (status, connected, teams, seq)
        self.ready, self.dirty, self.loaded_at = True, True, time.monotonic()
        for change in self.early:
            self.apply(change)
        self.early = []
        self._recount()

    def apply(self, change):
        """One change heard: the agent's new state replaces an older one; a deactivated agent leaves."""
        if not self.ready:
            self.early.append(change)
            return
        agent_id, known = change["agent_id"], self.agents.get(change["agent_id"])
        if known is not None and known[3] >= change["seq"]:
            return
        if known is not None:
            self._add(known, -1)
        if change["reason"] == "deactivated":
            self.agents.pop(agent_id, None)
        else:
            state = (change["status"], change["websocket_connected"], tuple(change.get("teams", ())), change["seq"])
            self.agents[agent_id] = state
            self._add(state, 1)
        self.dirty = True

    def _recount(self):
        self.whole, self.teams = blank(), {}
        for state in self.agents.values():
            self._add(state, 1)

    def _add(self, state, n):
        status, connected, teams, _ = state
        tally(self.whole, status, connected, n)
        for team in teams:
            tally(self.teams.setdefault(team, blank()), status, connected, n)

    def data(self, teams):
        """The counts payload for sockets of these teams (None: every team of the org)."""
        names = sorted(team for team, found in self.teams.items() if found["total"]) if teams is None else sorted(teams)
        return {"org": dict(self.whole), "teams": {team: dict(self.teams.get(team) or blank()) for team in names}}


class Counts:
    """The counts sockets of one web process, by group (org, teams), and the org numbers they read."""

    def __init__(self, app, emit):
        self.app, self.emit = app, emit
        self.interval = app.config["COUNTS_INTERVAL_MS"] / 1000
        self.first_delay = min(self.interval, app.config["PRESENCE_BATCH_MS"] / 1000)
        self.lock = threading.Lock()
        self.orgs, self.sockets, self.groups, self.last = {}, {}, {}, {}
        self.loaders, self.fresh, self.running, self.greeting = {}, set(), False, False
        self.stopped, self.pushed_at = False, 0.0

    def add(self, sid, org, teams, loader):
        """`sid` wants counts of `org` (and of `teams`, or every team if None); `loader()` reads the org's agents."""
        group = (org, None if teams is None else frozenset(teams))
        with self.lock:
            self._remove(sid)
            self.sockets[sid] = group
            self.groups.setdefault(group, set()).add(sid)
            self.fresh.add(sid)
            self.loaders[org] = loader
            found = self.orgs.get(org)
            load = found is None
            if load:
                found = self.orgs[org] = OrgCounts()
            start, self.running = not self.running, True
            greet, self.greeting = not self.greeting, True
        if start:
            socketio.start_background_task(self._loop)
        if load:
            socketio.start_background_task(self._load_logged, org)
        if greet:
            socketio.start_background_task(self._greet)

    def stop(self):
        """No more pushes: the process is stopping."""
        with self.lock:
            self.stopped = True

    def remove(self, sid):
        """`sid` closed or no longer wants counts."""
        with self.lock:
            self._remove(sid)

    def _remove(self, sid):
        group = self.sockets.pop(sid, None)
        if group is None:
            return
        self.fresh.discard(sid)
        members = self.groups[group]
        members.discard(sid)
        if not members:
            del self.groups[group]
            self.last.pop(group, None)
            if not any(g[0] == group[0] for g in self.groups):
                self.orgs.pop(group[0], None)
                self.loaders.pop(group[0], None)

    def delivered(self, org, change):
        """A presence change reached this process: count it if this org's numbers are kept here."""
        with self.lock:
            found = self.orgs.get(org)
            if found is not None:
                found.apply(change)

    def _load(self, org):
        loader = self.loaders.get(org)
        if loader is None:
            return
        with self.app.app_context():
            states = loader()
        with self.lock:
            found = self.orgs.get(org)
            if found is not None:
                found.load(states)

    def _load_logged(self, org):
        try:
            self._load(org)
        except Exception as exc:  # noqa: BLE001 - the next pass of the loop reads it again
            log.warning("counts of an org could not be read: %s", exc)
        self._greet()

    def _greet(self):
        """The first counts of sockets that just asked, one payload per group, shortly after they asked."""
        socketio.sleep(self.first_delay)
        with self.lock:
            self.greeting = False
            sends = self._plan(lambda group, data, members: [sid for sid in members if sid in self.fresh])
        self._send(sends)

    def _loop(self):
        while True:
            socketio.sleep(self.interval)
            with self.lock:
                if not self.groups or self.stopped:
                    self.running = False
                    return
                stale = [org for org, found in self.orgs.items()
                         if not found.ready or time.monotonic() - found.loaded_at > REBASE_SECONDS]
            for org in stale:
                try:
                    self._load(org)
                except Exception as exc:  # noqa: BLE001 - the numbers stay as heard until the next try
                    log.warning("counts of an org could not be read again: %s", exc)
            if herd_coming_in() and time.monotonic() - self.pushed_at < HERD_HOLD_SECONDS:
                continue  # newcomers still get their first counts (_greet)
            with self.lock:
                sends = self._plan(self._changed)
                for found in self.orgs.values():
                    found.dirty = False
            if sends:
                self.pushed_at = time.monotonic()
            self._send(sends)

    def _changed(self, group, data, members):
        """Every member if the group's numbers moved since its last push, else those never told."""
        if data != self.last.get(group):
            return list(members)
        return [sid for sid in members if sid in self.fresh]

    def _plan(self, pick):
        sends = []
        for group, members in self.groups.items():
            found = self.orgs.get(group[0])
            if found is None or not found.ready:
                continue
            data = found.data(group[1])
            to = pick(group, data, members)
            if to:
                if len(to) == len(members):  # the whole group heard these numbers
                    self.last[group] = data
                self.fresh.difference_update(to)
                sends.append((to, data))
        return sends

    def _send(self, sends):
        for to, data in sends:
            self.emit("presence_counts", dict(data, server_time=iso_epoch(time.time())), to)
