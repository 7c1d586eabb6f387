"""One web process holds far more than eventlet's default 1,024 connections (MAX_CONNECTIONS)."""
import json
import os
import resource
import subprocess

import pytest

from .clients import JS_DIR, Rest, node_missing
from .support import token, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.skipif(node_missing() is not None, reason=str(node_missing()))]

SOCKETS = 1_200  # past eventlet's default of 1,024 simultaneous connections
# Diff mode: this test is about how many sockets one process holds. In v1 mode a herd announces
# every newcomer to every socket already there (N^2/2 frames), which the herd bench measures.
MODE = "diff"


def _open_files(limit):
    def raise_limit():
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        wanted = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    return raise_limit


def test_more_than_1024_sockets_connect_to_one_process(processes, tmp_path, database):
    _, url = processes.web(MAX_CONNECTIONS=SOCKETS + 500)
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(token(sub, exp_in=3600) for sub in range(1, SOCKETS + 1)))
    node = subprocess.Popen(["node", os.path.join(JS_DIR, "many.mjs"), url, str(tokens), "120", MODE], cwd=JS_DIR,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            preexec_fn=_open_files(SOCKETS + 512))
    try:
        summary = json.loads(node.stdout.readline())
        timing = {name: summary.pop(name) for name in ("last_connect_ms", "elapsed_ms", "dropped")}
        print(f"\n{SOCKETS} sockets: {timing}")
        expected = {"n": SOCKETS, "connected": SOCKETS, "got_state": SOCKETS, "errors": [], "error_count": 0}
        assert summary == expected, timing
        wait_for(lambda: database.rows("SELECT count(*) FROM connections")[0][0] == SOCKETS, timeout=30,
                 message="every socket counted")
        assert Rest(url).heartbeat(SOCKETS + 1)[1]["agent_id"] == SOCKETS + 1  # and it still answers
    finally:
        node.stdin.write("close\n")
        node.stdin.flush()
        node.wait(timeout=30)
