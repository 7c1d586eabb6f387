"""Herd work takes turns in eventlet's hub: a request ready meanwhile waits a few turns, not the whole herd;
announcements made while a herd connects wait for it, in order, for at most the hold.

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


HOLD = r"""
import eventlet
eventlet.monkey_patch()
import json, sys, time
from presence_app import create_app
from presence_app import pacing

create_app({"APP_ENV": "testing", "JWT_SECRET_KEY": "x" * 40, "DATABASE_URL": "sqlite://",
            "ASYNC_MODE": "eventlet", "LOG_LEVEL": "WARNING"})
pacing.HOLD_SECONDS = float(sys.argv[1])
herd_seconds = float(sys.argv[2])
log = []
alone = pacing.after_connects(lambda: log.append("never"))  # nobody connecting: not held

def connect(i):
    with pacing.connecting():
        eventlet.sleep(herd_seconds * i / 50)  # its database work
        if not pacing.after_connects(lambda: log.append(("run", i, round(time.monotonic() - start, 2)))):
            log.append(("now", i))
    log.append(("connected", i, round(time.monotonic() - start, 2)))

start = time.monotonic()
pool = eventlet.GreenPool()
for i in range(50):
    pool.spawn(connect, i)
pool.waitall()
eventlet.sleep(0.2)  # the rest of the held work
print(json.dumps({"alone": alone, "log": log}))
"""


def _held(hold, herd_seconds):
    done = subprocess.run([sys.executable, "-c", HOLD, str(hold), str(herd_seconds)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_announcements_made_while_a_herd_connects_wait_for_it_then_run_in_order():
    result = _held(hold=10, herd_seconds=0.5)

    assert result["alone"] is False  # with no herd, an announcement goes out at once
    runs = [entry for entry in result["log"] if entry[0] == "run"]
    assert [i for _, i, _ in runs] == list(range(49))  # every one but the last connect's, in order
    connected_at = {entry[1]: entry[2] for entry in result["log"] if entry[0] == "connected"}
    assert all(at >= connected_at[48] for _, _, at in runs), result  # none while two or more were connecting
    assert ["now", 49] in result["log"]  # the last one was alone by then


def test_held_announcements_wait_no_longer_than_the_hold_while_the_herd_goes_on():
    result = _held(hold=0.3, herd_seconds=2)

    runs = [entry for entry in result["log"] if entry[0] == "run"]
    first_run_at = runs[0][2]
    assert 0.3 <= first_run_at < 1.0, result  # the first announcement, made at about 0, ran after the hold
    assert [i for _, i, _ in runs] == sorted(i for _, i, _ in runs)  # still in order
