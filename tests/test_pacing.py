"""Herd work takes turns in eventlet's hub: a request ready meanwhile waits a few turns, not the whole herd.

Run in a child process on eventlet (the suite's apps use threads, where turns mean nothing): a
hundred green threads standing for connect handlers become ready at once, then a probe standing
for a REST request; the order in which they finish their work is the order the hub ran them.
"""
import json
import subprocess
import sys

SCRIPT = r"""
import eventlet
eventlet.monkey_patch()
import json, sys, time
from presence_app import create_app
from presence_app.pacing import TURNS_AT_ONCE, take_turn

create_app({"APP_ENV": "testing", "JWT_SECRET_KEY": "x" * 40, "DATABASE_URL": "sqlite://",
            "ASYNC_MODE": "eventlet", "LOG_LEVEL": "WARNING"})
order = []

def handler(i):
    take_turn()
    time.sleep(0)  # a real handler gives up its pass at I/O: here, once
    order.append(i)

def request():
    eventlet.sleep(0)  # read, then answered one pass later
    order.append("request")

pool = eventlet.GreenPool()
for i in range(100):
    pool.spawn(handler, i)
pool.spawn(request)
pool.waitall()
print(json.dumps({"turns": TURNS_AT_ONCE, "order": order}))
"""


def test_a_request_ready_during_a_herd_of_connects_runs_after_a_few_of_them_not_all():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])

    order = result["order"]
    assert sorted(i for i in order if i != "request") == list(range(100))  # every handler ran
    assert order.index("request") <= result["turns"], order
