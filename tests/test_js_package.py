"""clients/js, the presence-app-client package: `npm ci`, `npm test` (its unit tests, its type test, its size
budget and its tests against a real server started here), and `npm pack` installed in a fresh folder.

The Node tests reach the server at PRESENCE_URL, mint tokens with PRESENCE_SECRET, and ask this module,
at PRESENCE_CONTROL, for what only the server's side can do: a web process of their own, a restart of it,
and changes committed without an announcement (what a crash between commit and emit leaves behind).
"""
import json
import os
import re
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from presence_app.services import presence, typing
from presence_app.services.identity import Identity

from .clients import Rest
from .support import FAST, ROOT, SECRET, token

PACKAGE = os.path.join(ROOT, "clients", "js")
NPM = shutil.which("npm")


def _missing():
    if not shutil.which("node") or not NPM:
        return "Node.js and npm are not installed (clients/js needs node and npm on PATH)"
    return None


pytestmark = [pytest.mark.processes, pytest.mark.skipif(_missing() is not None, reason=str(_missing()))]


def _failures(output):
    """The failing tests' reports of node --test's output (TAP), else its end."""
    lines = output.splitlines()
    starts = [n for n, line in enumerate(lines) if line.lstrip().startswith("not ok")]
    return "\n".join("\n".join(lines[n:n + 40]) for n in starts) or output[-6000:]


def npm(*args, cwd=PACKAGE, env=None, timeout=300):
    """Run npm; fail with its output unless it succeeds."""
    done = subprocess.run([NPM, *args], cwd=cwd, env=dict(os.environ, **(env or {})), capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"npm {' '.join(args)} failed:\n{_failures(done.stdout)}\n{done.stderr[-6000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed():
    """clients/js with its locked dependencies (npm ci)."""
    npm("ci", "--no-audit", "--no-fund")
    return PACKAGE


class Control:
    """What the Node tests ask of the server's side, over HTTP: POST /web, /restart, /silent, /typing."""

    def __init__(self, processes, app):
        self.processes, self.app, self.webs = processes, app, {}
        self.lock = threading.Lock()

    def web(self, _body):
        """A web process of the caller's own (FAST settings)."""
        proc, url = self.processes.web(name="web-js", **FAST)
        with self.lock:
            self.webs[url] = proc
        return {"url": url}

    def restart(self, body):
        """Stop a web process of POST /web as a process manager does (SIGTERM), and start it again on its port."""
        url = body["url"]
        with self.lock:
            proc = self.webs[url]
        proc.stop()
        fresh, _ = self.processes.web(name="web-js", port=int(url.rsplit(":", 1)[1]), **FAST)
        with self.lock:
            self.webs[url] = fresh
        return {"url": url}

    def silent(self, body):
        """Set an agent's status through the service with no announcement: its seq grows, nobody hears it."""
        who = Identity(body["agent_id"], body.get("name") or f"Agent {body['agent_id']}", body["org"], "agent")
        with self.app.app_context():
            return presence.set_status(who, body["status"], body.get("message", ""))

    def typing(self, body):
        """Start an agent's typing in a chat with no announcement."""
        who = Identity(body["agent_id"], body.get("name") or f"Agent {body['agent_id']}", body["org"], "agent")
        with self.app.app_context():
            return typing.start(who, body["chat_id"])


@pytest.fixture
def control(processes, make_app):
    """The control server of the Node tests: its URL."""
    commands = Control(processes, make_app())

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            try:
                status, answer = 200, getattr(commands, self.path.strip("/"))(body)
            except Exception as exc:  # noqa: BLE001 - told to the Node test that asked
                status, answer = 500, {"error": repr(exc)}
            data = json.dumps(answer, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_npm_test_passes_against_a_live_server(installed, processes, control):
    """The unit tests, the type test, the size budget and every live test of clients/js, in one `npm test`."""
    _, url = processes.web(**FAST)
    output = npm("test", env={"PRESENCE_URL": url, "PRESENCE_SECRET": SECRET, "PRESENCE_CONTROL": control},
                 timeout=600)
    print(output)  # the size figure and each test's line (pytest -s shows them)
    # node --test's closing lines, TAP ("# pass 32") or spec ("ℹ pass 32") as the Node version has it.
    summary = dict(re.findall(r"^(?:#|ℹ) (pass|fail|skipped|cancelled) (\d+)$", output, re.M))
    assert summary["fail"] == "0" and summary["cancelled"] == "0", output[-4000:]
    assert int(summary["pass"]) >= 30, summary
    assert "bytes minified" in output


def test_npm_pack_installs_in_a_fresh_folder_and_connects_with_no_build(installed, processes, tmp_path):
    _, url = processes.web(**FAST)
    packed = json.loads(npm("pack", "--json", "--pack-destination", str(tmp_path)))[0]
    files = {entry["path"] for entry in packed["files"]}
    assert {"package.json", "dist/index.js", "dist/index.d.ts", "dist/store.js", "dist/generated/events.d.ts"} <= files
    assert not [f for f in files if f.startswith(("src/", "tests/", "scripts/", "node_modules/"))], files
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text('{"name": "consumer", "private": true, "type": "module"}\n')
    npm("install", "--no-audit", "--no-fund", "--prefer-offline", str(tmp_path / packed["filename"]), cwd=app)
    # docs/frontend.md's fifteen lines, as written, with the two names it leaves to the reader.
    (app / "roster.mjs").write_text(
        "const PRESENCE_URL = process.argv[2];\nconst getToken = async () => process.argv[3];\n"
        + fifteen_lines() + "client.close();\n")
    api = Rest(url)
    api.set_status(71, "busy", "In a meeting", name="João Silva")
    ran = subprocess.run(["node", "roster.mjs", url, token(72, name="Maria")], cwd=app, capture_output=True,
                         text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert "connection: connected" in ran.stdout
    assert "João Silva" in ran.stdout and "In a meeting" in ran.stdout and "Maria" in ran.stdout
    assert (api.me(72)["status"], api.me(72)["status_message"]) == ("online", "Ready for chats")


def fifteen_lines():
    """The js block of docs/frontend.md's "Fifteen lines to a live roster"."""
    with open(os.path.join(ROOT, "docs", "frontend.md"), encoding="utf-8") as handle:
        section = handle.read().split("\n## Fifteen lines to a live roster\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```js\n(.*?)```", section, re.S)
    assert len(block.strip().splitlines()) <= 15
    return block
