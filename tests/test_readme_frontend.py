"""The README's front-end module, extracted as written, under Node with socket.io-client against a real server."""
import json
import os
import re
import subprocess
import threading

import pytest
from sqlalchemy import create_engine, text

from presence_app.config import database_url as sa_url

from .clients import JS_DIR, Rest, matches, node_missing, settle
from .support import CHAT, FAST, MEETING, ROOT, token, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.skipif(node_missing() is not None, reason=str(node_missing()))]


def frontend_blocks():
    """The js code blocks of the README's "Using it from a front end" section, in order."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        section = handle.read().split("\n## Using it from a front end\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```js\n(.*?)```", section, re.S)


@pytest.fixture
def module(tmp_path):
    """The README's presence.js, written out where Node finds tests/js's socket.io-client."""
    path = tmp_path / "presence.mjs"
    path.write_text(frontend_blocks()[0], encoding="utf-8")
    (tmp_path / "node_modules").symlink_to(os.path.join(JS_DIR, "node_modules"))
    return path


class ReadmeModule:
    """connectPresence() of the README under Node, driven through tests/js/readme_driver.mjs."""

    def __init__(self, url, module, log_path):
        self._log = open(log_path, "w")  # noqa: SIM115 - Node's stderr for the whole test; closed in stop()
        self.proc = subprocess.Popen(["node", os.path.join(JS_DIR, "readme_driver.mjs"), url, str(module)],
                                     cwd=os.path.dirname(module), text=True, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log)
        self.lines, self._next_id = [], 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(json.loads(line))

    def send(self, **command):
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def seen(self, kind, where=lambda line: True, **match):
        """Lines of `kind` with the given values that satisfy `where`."""
        return [line for line in list(self.lines) if line["type"] == kind and matches(line, match) and where(line)]

    def wait(self, kind, where=lambda line: True, **match):
        """The first line of `kind` matching, once it has come."""
        found = wait_for(lambda: self.seen(kind, where, **match), timeout=15, message=f"{kind} {match} from node")
        return found[0]

    def call(self, method, *args):
        """Call a method of the module's object; return its line (result or error)."""
        self._next_id += 1
        self.send(cmd="call", id=self._next_id, method=method, args=list(args))
        return wait_for(lambda: next((line for line in list(self.lines) if line.get("id") == self._next_id
                                      and line["type"] in ("result", "error")), None), timeout=15,
                        message=f"{method} from node")

    def value(self, method, *args):
        line = self.call(method, *args)
        assert line["type"] == "result", line
        return line["value"]

    def roster(self):
        self._next_id += 1
        self.send(cmd="roster", id=self._next_id)
        return {a["agent_id"]: a for a in self.wait("roster_now", id=self._next_id)["agents"]}

    def tick(self, ms):
        """Move the module's setInterval clock on by `ms`."""
        self._next_id += 1
        self.send(cmd="tick", id=self._next_id, ms=ms)
        self.wait("ticked", id=self._next_id)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


@pytest.fixture
def readme_module(module, tmp_path):
    opened = []

    def start(url):
        opened.append(ReadmeModule(url, module, tmp_path / f"readme-node-{len(opened)}.log"))
        return opened[-1]

    yield start
    for node in opened:
        node.stop()


def has_agent(agent_id, **fields):
    """A roster line's test: it holds `agent_id` with these values."""
    return lambda line: any(a["agent_id"] == agent_id and matches(a, fields) for a in line["agents"])


def test_readme_module_keeps_the_roster_sends_heartbeats_and_speaks_every_client_event(
        processes, readme_module, fresh_db):
    _, url = processes.web(**FAST)
    api = Rest(url)
    api.set_status(1, "busy", MEETING, name="João Silva")
    node = readme_module(url)
    node.send(cmd="connect", token=token(5, name="Maria"))
    node.wait("connected")

    # presence_state fills the roster; changes made elsewhere keep it current, seq by seq.
    node.wait("roster", where=has_agent(5, websocket_connected=True, connections=1))
    assert node.roster()[1] == api.get(5, 1)
    api.set_status(1, "online", name="João Silva")
    assert node.wait("change", where=lambda line: line["data"]["agent_id"] == 1)["data"]["seq"] == 2
    joao = node.roster()[1]
    assert (joao["status"], joao["status_message"], joao["seq"], joao["is_available"]) == ("online", "", 2, False)

    # Acks: the module resolves ok ones and rejects the others with the server's error code.
    assert node.value("setStatus", "online", "Ready")["presence"]["status"] == "online"
    assert node.wait("change", where=lambda line: line["data"]["agent_id"] == 5 and line["data"]["reason"] == "manual")
    assert node.roster()[5]["is_available"] is True
    refused = node.call("setStatus", "BUSY")
    assert (refused["type"], refused["code"]) == ("error", "validation_error")

    # The heartbeat every 30 s, on the module's own timer.
    assert api.me(5)["last_heartbeat"] is None
    node.tick(29_999)
    settle(0.5)
    assert api.me(5)["last_heartbeat"] is None
    node.tick(1)
    wait_for(lambda: api.me(5)["last_heartbeat"], message="the module's heartbeat")

    # A chat: typing of others arrives; the agent's own typing renews at most every 10 s.
    assert node.value("joinChat", CHAT) == {"ok": True, "chat_id": CHAT, "typing": []}
    api.typing(6, CHAT)
    assert node.wait("typing", typing=True)["data"]["from"] == "Agent 6"
    api.ok("DELETE", f"/typing/?chat_id={CHAT}", 6)
    node.wait("typing", typing=False)
    assert node.value("typing", CHAT)["started"] is True
    assert node.value("typing", CHAT) is None
    assert node.value("stopTyping", CHAT)["stopped"] is True

    # A change the module never received (as after a crash between commit and emit): a seq gap,
    # so it reads the roster again instead of applying the next change on top.
    engine = create_engine(sa_url(fresh_db))
    with engine.begin() as conn:
        conn.execute(text("UPDATE presence SET seq = seq + 1 WHERE agent_id = 1"))
    engine.dispose()
    api.set_status(1, "away", "back soon", name="João Silva")
    node.wait("roster", where=has_agent(1, seq=4, status="away", status_message="back soon"))
    assert not node.seen("change", where=lambda line: line["data"]["agent_id"] == 1 and line["data"]["seq"] == 4)
    assert node.roster()[1] == api.get(5, 1)


def test_readme_module_reports_a_refused_connection_and_reconnects_with_a_new_token(processes, readme_module):
    _, url = processes.web(**FAST)
    node = readme_module(url)
    node.send(cmd="connect", token=token(5, exp_in=-60))
    error = node.wait("refused")["error"]
    assert (error["error"], error["details"]) == ("unauthorized", {})
    assert error["message"] == "token has expired"
    assert not node.seen("connected")

    node.send(cmd="token", token=token(5, name="Maria"))
    node.value("reconnect")
    node.wait("connected")
    node.wait("roster", where=has_agent(5, websocket_connected=True))
