"""Turns for herd work, so a burst of sockets connecting or leaving never starves a REST request.

While a herd comes in, announcements to v1 sockets wait (`after_connects`): each newcomer's roster
would otherwise queue behind the announcements of every newcomer before it, each one sent to every
socket already there. Held work runs in order, RUN_AT_ONCE pieces per pass of the hub, once fewer
than HERD sockets are busy (taking a turn, in their connect handler, or waiting for their roster),
or once the oldest piece has waited HOLD_SECONDS.
"""
import collections
import contextlib
import logging
import threading
import time

from .extensions import socketio

TURNS_AT_ONCE = 8
HERD = 2  # sockets busy at once, counting the one whose connect handler announces itself
HOLD_SECONDS = 2.0
RUN_AT_ONCE = 16  # at least the pieces TURNS_AT_ONCE connects add (a join and an announcement each)
_turns = threading.BoundedSemaphore(TURNS_AT_ONCE)  # green under eventlet: one per web process
_lock = threading.Lock()
_held = collections.deque()  # (since, work), oldest first
_state = {"busy": 0, "draining": False}
log = logging.getLogger(__name__)


def awaiting_roster(count):
    """`count` more sockets (fewer, if negative) are busy coming in: here, waiting for a shared roster build."""
    with _lock:
        _state["busy"] += count


@contextlib.contextmanager
def _busy():
    awaiting_roster(1)
    try:
        yield
    finally:
        awaiting_roster(-1)


def _turn():
    with _turns:
        socketio.sleep(0)


def take_turn():
    """Enter at most TURNS_AT_ONCE at a time, each giving up the rest of this pass of the hub first.

    eventlet runs every ready green thread once per pass before it polls the sockets again: a
    thousand connects ready at once would each run a few milliseconds before the next request is
    even read. Waiting here they are blocked, not ready, and enter a few per pass.
    """
    with _busy():
        _turn()


@contextlib.contextmanager
def connecting():
    """A socket's connect handler: it takes a turn, and is busy until the handler is done."""
    with _busy():
        _turn()
        yield


def herd_coming_in():
    """True while HERD or more sockets are busy coming in."""
    with _lock:
        return _state["busy"] >= HERD


def after_connects(work):
    """Hold `work()` while a herd comes in or earlier work is held; False if it may run now."""
    with _lock:
        if not _held and _state["busy"] < HERD:
            return False
        _held.append((time.monotonic(), work))
        start, _state["draining"] = not _state["draining"], True
    if start:
        socketio.start_background_task(_drain)
    return True


def _drain():
    while True:
        with _lock:
            if not _held:
                _state["draining"] = False
                return
            wait = _state["busy"] >= HERD and time.monotonic() - _held[0][0] < HOLD_SECONDS
        if wait:
            socketio.sleep(0.005)
            continue
        for _ in range(RUN_AT_ONCE):
            with _lock:
                if not _held:
                    break
                work = _held.popleft()[1]
            try:
                work()
            except Exception as exc:  # noqa: BLE001 - one failed piece must not hold back the rest
                log.warning("held socket work failed: %s", exc)
        socketio.sleep(0)
