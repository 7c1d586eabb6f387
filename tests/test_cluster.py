"""The whole topology behind a real HAProxy (deploy/haproxy.cfg): kills, rolling restarts, draining."""
import signal
import time

import pytest
import requests

from .clients import Rest
from .support import FAST, wait_for

pytestmark = pytest.mark.processes


def test_a_stopping_web_process_answers_503_on_health_while_it_drains_then_exits(production):
    drain = 2
    proc, url = production.web(name="draining", DRAIN_SECONDS=drain, **FAST)
    rest = Rest(url)
    proc.popen.send_signal(signal.SIGTERM)
    started = time.monotonic()
    answers = []
    wait_for(lambda: answers.append(requests.get(f"{url}/health", timeout=2)) or answers[-1].status_code == 503,
             timeout=drain, interval=0.02, message="/health answering 503")
    assert answers[-1].json()["status"] == "draining"
    assert rest.set_status(1, "online")["status"] == "online", "requests are still served while draining"
    proc.popen.wait(timeout=drain + 10)
    stopped = time.monotonic() - started
    print(f"\nSIGTERM: /health 503 within {answers[-1].elapsed.total_seconds():.3f}s, exited after {stopped:.2f}s")
    assert proc.popen.returncode == 0 and drain <= stopped <= drain + 5
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/health", timeout=2)
