"""`./dev.py prod`: the production topology on one machine, started, used across processes, stopped by SIGTERM."""
import os
import signal
import subprocess
import sys

import pytest

from .clients import Rest
from .support import CHAT, ROOT, SECRET, Proc, free_port, service_env, wait_healthy

pytestmark = pytest.mark.processes


def two_free_ports():
    """A port P such that P and P+1 are both free now."""
    while True:
        port = free_port()
        if port < 65535 and _free(port + 1):
            return port


def _free(port):
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def children_of(pid):
    """Pids whose parent is `pid` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_dev_py_prod_runs_release_two_webs_and_a_worker_and_stops_them_all(stop, migrated, fresh_db, clean_redis,
                                                                           clients, tmp_path):
    port = two_free_ports()
    env = service_env({}, DATABASE_URL=migrated, REDIS_URL=clean_redis, JWT_SECRET_KEY=SECRET, APP_ENV="production",
                      PORT=port, HOST="127.0.0.1", METRICS_TOKEN=None, TYPING_TIMEOUT_SECONDS=2,
                      PROCESS_BEAT_SECONDS=1, DISCONNECT_GRACE_SECONDS=1, LOG_LEVEL="INFO")
    prod = Proc([sys.executable, "dev.py", "prod"], env, str(tmp_path / "prod.log"))
    kids = []
    try:
        web1, web2 = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"
        wait_healthy(prod, web1, "web1 of ./dev.py prod", timeout=120)
        wait_healthy(prod, web2, "web2 of ./dev.py prod", timeout=30)
        kids = children_of(prod.pid)
        assert len(kids) == 3, prod.log()
        assert "release: flask db upgrade" in prod.log()

        # A change made on web1 reaches a socket on web2 (through Redis); the worker's sweep acts.
        watcher = clients.console(web2, 2).connect()
        assert watcher.call("join_chat", {"chat_id": CHAT})["ok"] is True
        rest = Rest(web1)
        rest.set_status(1, "busy", "on web1")
        watcher.wait("agent_presence_changed", agent_id=1, status="busy")
        rest.typing(1, CHAT)
        watcher.wait("typing_start", agent_id=1, chat_id=CHAT)
        watcher.wait("typing_stop", agent_id=1, chat_id=CHAT, timeout=20)  # only the worker's sweep stops it
        watcher.close()

        prod.popen.send_signal(stop)
        assert prod.popen.wait(timeout=15) == 0, prod.log()
        assert all(gone(pid) for pid in kids), prod.log()
        assert "stopped" in prod.log()
    finally:
        prod.kill()
        for pid in kids:
            if not gone(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("missing", ["DATABASE_URL", "REDIS_URL"])
def test_dev_py_prod_without_database_or_redis_says_what_to_set(missing):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATABASE_URL="postgresql://postgres@127.0.0.1:5432/postgres", REDIS_URL="redis://127.0.0.1:6379/0",
               JWT_SECRET_KEY=SECRET)
    del env[missing]
    done = subprocess.run([sys.executable, "dev.py", "prod"], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=30)
    assert done.returncode != 0
    assert f"dev.py prod: set {missing}" in done.stderr
    assert "Traceback" not in done.stderr
