"""The README's run command serves the README's curl examples and the runnable blocks of docs/getting-started.md."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from .support import ROOT, Proc, free_port, service_env, wait_healthy


def _try_it_blocks():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    section = text.split("## Try it", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [b for b in blocks if "curl" in b]


def runnable_blocks(page):
    """The ```sh blocks of a docs page marked runnable (an `<!-- runnable -->` line right before them)."""
    with open(os.path.join(ROOT, page), encoding="utf-8") as handle:
        return re.findall(r"^<!-- runnable -->\n```sh\n(.*?)```", handle.read(), re.S | re.M)


def run_blocks(blocks, port, env=None):
    """Run shell blocks in one bash, stopping at the first failing command, against the server on `port`."""
    script = "set -euo pipefail\n" + "\n".join(blocks)
    script = script.replace("localhost:8001", f"127.0.0.1:{port}")
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)


@pytest.fixture
def dev_run(tmp_path, fresh_db, base_env):
    """`./dev.py run` as the README says, on a free port, against the test database: (port, proc, env)."""
    port = free_port()
    env = service_env(dict(base_env, ASYNC_MODE="eventlet"), APP_ENV="development", PORT=port, JWT_SECRET_KEY=None)
    proc = Proc([sys.executable, "dev.py", "run"], env, str(tmp_path / "dev-run.log"))
    wait_healthy(proc, f"http://127.0.0.1:{port}", name="./dev.py run", timeout=90)
    yield port, proc, env
    proc.stop()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_curl_examples_work_against_the_run_command(dev_run):
    port, proc, _ = dev_run
    assert "demo login: joao@example.com" in proc.log()
    out = run_blocks(_try_it_blocks()[:2], port)
    assert out.returncode == 0, out.stderr
    set_status, heartbeat, typing_on, typing_off, me, busy = _json_objects(out.stdout)
    assert (set_status["status"], set_status["status_message"]) == ("busy", "In a meeting until 3 pm")
    assert set_status["name"] == "João Silva"
    assert heartbeat["last_heartbeat"] is not None and heartbeat["status"] == "busy"
    assert typing_on == {"chat_id": "5511999999999", "typing": True, "started": True}
    assert typing_off == {"chat_id": "5511999999999", "typing": False, "stopped": True}
    assert me["seq"] == set_status["seq"] == 1
    assert [a["name"] for a in busy["agents"]] == ["João Silva"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_runnable_blocks_of_getting_started_and_every_docs_page_work_as_written(dev_run):
    port, _, env = dev_run
    blocks = runnable_blocks("docs/getting-started.md")
    assert len(blocks) == 5
    # The last block provisions an agent in the database the server uses (the test's, via DATABASE_URL).
    out = run_blocks(blocks, port, env=env)
    assert out.returncode == 0, out.stderr
    health, away, roster, bea = _json_objects(out.stdout)
    assert health == {"status": "ok", "database": "ok", "redis": "not configured", "mode": "embedded"}
    assert (away["status"], away["reason_code"], away["status_message"]) == ("away", "lunch", "Lunch")
    assert away["status_until"] is not None
    assert [a["name"] for a in roster["agents"]] == ["João Silva"] and roster["count"] == 1
    assert (bea["agent_id"], bea["name"], bea["status"], bea["is_available"]) == (42, "Bea Santos", "online", False)
    assert "created agent" in out.stdout and "(you@example.com, org default, role agent)" in out.stdout

    # Any other page's runnable blocks, each page in one shell, against the same server.
    for page in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
        others = runnable_blocks(page) if not page.endswith("getting-started.md") else []
        if others:
            out = run_blocks(others, port, env=env)
            assert out.returncode == 0, (page, out.stderr)


def _json_objects(text):
    decoder, objects, index = json.JSONDecoder(), [], 0
    while index < len(text):
        if text[index] == "{":
            value, index = decoder.raw_decode(text, index)
            objects.append(value)
        else:
            index += 1
    return objects
