"""The README's run command serves the README's curl examples (the origin's, unchanged)."""
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


@pytest.fixture
def dev_run(tmp_path, fresh_db, base_env):
    """`./dev.py run` as the README says, on a free port, against the test database."""
    port = free_port()
    env = service_env(dict(base_env, ASYNC_MODE="eventlet"), APP_ENV="development", PORT=port, JWT_SECRET_KEY=None)
    proc = Proc([sys.executable, "dev.py", "run"], env, str(tmp_path / "dev-run.log"))
    wait_healthy(proc, f"http://127.0.0.1:{port}", name="./dev.py run", timeout=90)
    yield port, proc
    proc.stop()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_readme_curl_examples_work_against_the_run_command(dev_run):
    port, proc = dev_run
    assert "demo login: joao@example.com" in proc.log()
    script = "set -euo pipefail\n" + "\n".join(_try_it_blocks()[:2])
    script = script.replace("localhost:8001", f"127.0.0.1:{port}")
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    set_status, heartbeat, typing_on, typing_off, me, busy = _json_objects(out.stdout)
    assert (set_status["status"], set_status["status_message"]) == ("busy", "In a meeting until 3 pm")
    assert set_status["name"] == "João Silva"
    assert heartbeat["last_heartbeat"] is not None and heartbeat["status"] == "busy"
    assert typing_on == {"chat_id": "5511999999999", "typing": True, "started": True}
    assert typing_off == {"chat_id": "5511999999999", "typing": False, "stopped": True}
    assert me["seq"] == set_status["seq"] == 1
    assert [a["name"] for a in busy["agents"]] == ["João Silva"]


def _json_objects(text):
    decoder, objects, index = json.JSONDecoder(), [], 0
    while index < len(text):
        if text[index] == "{":
            value, index = decoder.raw_decode(text, index)
            objects.append(value)
        else:
            index += 1
    return objects
