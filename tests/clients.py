"""Clients of the tests: real Socket.IO clients (python-socketio, socket.io-client under Node), REST, the database."""
import contextlib
import json
import os
import shutil
import subprocess
import threading
import time

import requests
import socketio
from sqlalchemy import create_engine, func, select, text

from presence_app.config import database_url as sa_url
from presence_app.dbtime import seconds_ago
from presence_app.models import Presence, PresenceChange, TypingIndicator

from .support import ROOT, bearer, token, wait_for

JS_DIR = os.path.join(ROOT, "tests", "js")
EVENTS = ("agent_presence_changed", "typing_start", "typing_stop", "presence_state")
P, L, T = Presence.__table__, PresenceChange.__table__, TypingIndicator.__table__


def matches(data, match):
    """True if every key of `match` has that value in `data`."""
    return all(data.get(key) == value for key, value in match.items())


class Recorder:
    """Events a client received, in order, each as (event name, payload)."""

    def __init__(self):
        self.events, self._lock = [], threading.Lock()

    def record(self, event, payload):
        with self._lock:
            self.events.append((event, payload))

    def _matching(self, events, match):
        with self._lock:
            found = list(self.events)
        return [(e, p) for e, p in found if e in events and matches((p or {}).get("data") or {}, match)]

    def received(self, event, **match):
        """Payloads of `event` whose data has the given values, in arrival order."""
        return [p for _, p in self._matching((event,), match)]

    def timeline(self, *events, **match):
        """(event, data) of the named events whose data has the given values, in arrival order."""
        return [(e, p["data"]) for e, p in self._matching(events, match)]

    def wait(self, event, count=1, timeout=15, **match):
        """Wait until `count` payloads of `event` matching `match` arrived; return them."""
        def arrived():
            found = self.received(event, **match)
            return found if len(found) >= count else None

        return wait_for(arrived, timeout=timeout, message=f"{count} x {event} {match} at {self}")

    def changes(self, agent_id=None):
        """Data of every agent_presence_changed received (of one agent, if given)."""
        match = {} if agent_id is None else {"agent_id": agent_id}
        return [p["data"] for p in self.received("agent_presence_changed", **match)]


class Console(Recorder):
    """An agent's console tab: python-socketio's Client, recording every server event."""

    def __init__(self, url, sub, transports=("websocket",), auth=None, origin=None, **claims):
        super().__init__()
        self.url, self.sub, self.transports = url, sub, list(transports)
        self.auth = auth if auth is not None else {"token": token(sub, **claims)}
        self.headers = {"Origin": origin} if origin else {}
        self.refusals = []
        # websocket-client sends an Origin of its own unless told not to; a browser sends one.
        self.sio = socketio.Client(reconnection=False,
                                   websocket_extra_options={"suppress_origin": True} if origin else {})
        self.sio.on("*", self.record)
        self.sio.on("connect_error", self.refusals.append)

    def __repr__(self):
        return f"<Console agent {self.sub} at {self.url}>"

    def _connect(self, query):
        self.sio.connect(self.url + query, auth=self.auth, headers=self.headers, transports=self.transports,
                         wait_timeout=15)

    def connect(self, query="", presence_state=True):
        """Connect; by default wait for presence_state, which every accepted socket gets."""
        self._connect(query)
        if presence_state:
            self.wait("presence_state")
        return self

    def refused(self, query=""):
        """Try to connect, expecting a refusal; return what the server said."""
        try:
            self._connect(query)
        except socketio.exceptions.ConnectionError as exc:
            return {"exception": str(exc), "connect_error": self.refusals[-1] if self.refusals else None}
        raise AssertionError(f"{self} was accepted, expected a refusal")

    def call(self, event, data=None):
        """Emit a client event and return its ack."""
        return self.sio.call(event, data, timeout=15)

    def close(self):
        if self.sio.connected:
            self.sio.disconnect()


class NodeClient(Recorder):
    """The official socket.io-client under Node, driven line by line through tests/js/client.mjs."""

    def __init__(self, url, log_path):
        super().__init__()
        self.url, self.log_path, self.lines = url, log_path, []
        self._log = open(log_path, "w")  # noqa: SIM115 - Node's stderr for the whole test; closed in stop()
        self.proc = subprocess.Popen(["node", os.path.join(JS_DIR, "client.mjs"), url], cwd=JS_DIR, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log)
        self._next_id = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def __repr__(self):
        return f"<NodeClient at {self.url}>"

    def _read(self):
        for line in self.proc.stdout:
            message = json.loads(line)
            self.lines.append(message)
            if message["type"] == "event":
                self.record(message["event"], message["payload"])

    def _send(self, **command):
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def _reply(self, kind, timeout=15, **match):
        kinds = (kind,) if isinstance(kind, str) else kind
        return wait_for(lambda: next((m for m in self.lines if m["type"] in kinds and matches(m, match)), None),
                        timeout=timeout, message=f"{kind} {match} from node")

    def connect(self, auth, **options):
        """Open io(url, {auth, ...options}); return Node's line saying whether it connected."""
        self._next_id += 1
        self._send(cmd="connect", id=self._next_id, auth=auth, options=options)
        return self._reply(("connected", "connect_error"), id=self._next_id)

    def call(self, event, data=None):
        """socket.emitWithAck(event, data) under Node; return the ack."""
        self._next_id += 1
        self._send(cmd="emit", id=self._next_id, event=event, data=data)
        return self._reply("ack", id=self._next_id)["ack"]

    def close(self):
        """socket.disconnect(); wait until Node says it is closed."""
        self._next_id += 1
        self._send(cmd="close", id=self._next_id)
        return self._reply("closed", id=self._next_id)

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


def node_missing():
    """Why the Node client cannot run here, or None."""
    if not shutil.which("node"):
        return "Node.js is not installed (the JavaScript client test needs node on PATH)"
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "socket.io-client")):
        return "tests/js/node_modules is missing: run `npm ci` in tests/js (./dev.py test does it)"
    return None


class Clients:
    """Every client a test opens, closed at its end."""

    def __init__(self, tmp_path):
        self.tmp_path, self.opened = tmp_path, []

    def console(self, url, sub, **kwargs):
        client = Console(url, sub, **kwargs)
        self.opened.append(client)
        return client

    def node(self, url):
        client = NodeClient(url, os.path.join(str(self.tmp_path), f"node-{len(self.opened)}.log"))
        self.opened.append(client)
        return client

    def close_all(self):
        for client in self.opened:
            with contextlib.suppress(Exception):  # teardown closes what it can
                client.stop() if isinstance(client, NodeClient) else client.close()


def settle(seconds):
    """Let a bounded window pass in which nothing should happen (only for 'nothing happened' checks)."""
    time.sleep(seconds)


def sentinel(url, observers, sub=99, **claims):
    """Make one last change and wait until every observer has it."""
    # Every emit goes through one Redis channel (or one process), in order, so once the
    # sentinel has arrived, anything sent before it has arrived too.
    message = f"sentinel {time.monotonic_ns()}"
    Rest(url).set_status(sub, "away", message, **claims)
    for observer in observers:
        observer.wait("agent_presence_changed", agent_id=sub, message=message)


class Observer:
    """A real Socket.IO client that records every event it receives, with its arrival time."""

    def __init__(self, url, sub, chats=(), **claims):
        self.events = []
        self.sio = socketio.Client(reconnection=False)
        for name in EVENTS:
            self.sio.on(name, self._recorder(name))
        self.sio.connect(url, auth={"token": token(sub, **claims)}, transports=["websocket"], wait_timeout=10)
        for chat_id in chats:
            ack = self.sio.call("join_chat", {"chat_id": chat_id}, timeout=10)
            assert ack["ok"], ack

    def _recorder(self, name):
        def record(message):
            self.events.append((time.monotonic(), name, message["data"]))
        return record

    def of(self, name, **match):
        """(arrival, data) of every `name` event whose data matches `match`."""
        return [(at, data) for at, event, data in list(self.events) if event == name and matches(data, match)]

    def changes(self, agent_id, **match):
        return self.of("agent_presence_changed", agent_id=agent_id, **match)

    def call(self, event, data=None):
        return self.sio.call(event, data if data is not None else {}, timeout=10)

    def close(self):
        if self.sio.connected:
            self.sio.disconnect()


class Rest:
    """The REST API of one web process, as an agent's console calls it."""

    def __init__(self, url):
        self.url, self.http = url, requests.Session()

    def call(self, method, path, sub, body=None, **claims):
        """Call /api/v1`path` as agent `sub`; return the response."""
        return self.http.request(method, f"{self.url}/api/v1{path}", headers=bearer(sub, **claims), json=body,
                                 timeout=15)

    def ok(self, method, path, sub, body=None, **claims):
        """Call as agent `sub`; check it succeeded and return the JSON answer."""
        answer = self.call(method, path, sub, body, **claims)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def heartbeat(self, sub, **claims):
        """Send a heartbeat; return (monotonic time it was sent, presence answered)."""
        sent = time.monotonic()
        return sent, self.ok("POST", "/presence/heartbeat/", sub, **claims)

    def set_status(self, sub, status, message="", **claims):
        return self.ok("POST", "/presence/set-status/", sub, {"status": status, "message": message}, **claims)

    def me(self, sub, **claims):
        return self.ok("GET", "/presence/me/", sub, **claims)

    def get(self, sub, agent_id):
        return self.ok("GET", f"/presence/{agent_id}/", sub)

    def typing(self, sub, chat_id):
        """Start or renew typing; return (monotonic time it was sent, answer)."""
        sent = time.monotonic()
        return sent, self.ok("POST", "/typing/", sub, {"chat_id": chat_id})


class Database:
    """Read-only look at the test database from the test process: the ledger is the count of announcements."""

    def __init__(self, url):
        self.engine = create_engine(sa_url(url))

    def rows(self, statement, **params):
        """Rows of one SQL statement (to look at connections and web_processes)."""
        with self.engine.connect() as conn:
            return conn.execute(text(statement), params).all()

    def ledger(self, agent_id):
        with self.engine.connect() as conn:
            return conn.execute(select(L).where(L.c.agent_id == agent_id).order_by(L.c.seq)).all()

    def reasons(self, agent_id):
        return [row.reason for row in self.ledger(agent_id)]

    def presence(self, agent_id):
        with self.engine.connect() as conn:
            return conn.execute(select(P).where(P.c.agent_id == agent_id)).first()

    def lost_heartbeats(self, timeout):
        """Agents offline by timeout although their last sign of life is younger than the timeout."""
        with self.engine.connect() as conn:
            return conn.execute(select(P.c.agent_id).where(
                P.c.timed_out, P.c.status == "offline", P.c.last_seen >= seconds_ago(timeout))).scalars().all()

    def lost_during(self, seconds, timeout, interval):
        """Every agent lost_heartbeats finds while it is polled for `seconds`."""
        lost, deadline = set(), time.monotonic() + seconds
        while time.monotonic() < deadline:
            lost.update(self.lost_heartbeats(timeout))
            time.sleep(interval)
        return lost

    def typing_count(self):
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(T))
