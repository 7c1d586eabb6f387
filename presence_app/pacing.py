"""Turns for herd work, so a burst of sockets connecting or leaving never starves a REST request."""
import threading

from .extensions import socketio

TURNS_AT_ONCE = 8
_turns = threading.BoundedSemaphore(TURNS_AT_ONCE)  # green under eventlet: one per web process


def take_turn():
    """Enter at most TURNS_AT_ONCE at a time, each giving up the rest of this pass of the hub first.

    eventlet runs every ready green thread once per pass before it polls the sockets again: a
    thousand connects ready at once would each run a few milliseconds before the next request is
    even read. Waiting here they are blocked, not ready, and enter a few per pass.
    """
    with _turns:
        socketio.sleep(0)
