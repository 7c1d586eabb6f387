"""A bound on every wait for PostgreSQL, on the client's side, for web processes under eventlet.

A stopped (SIGSTOP) or unreachable server cannot enforce its own statement timeout, and its kernel
still accepts connections and acknowledges packets: only the client can give up. psycopg2 under
eventlet waits through a callback (eventlet's wait_callback); this one is eventlet's with a limit on
each wait. When the limit passes, psycopg2 marks the connection broken and SQLAlchemy discards it,
so the call answers 503 and the pool connects afresh once the server answers again.
"""
import eventlet.hubs
import psycopg2
from psycopg2 import extensions


class DatabaseTimeout(psycopg2.OperationalError):
    """The database did not answer within the client's bound."""


def install(query_seconds, connect_seconds):
    """Make psycopg2's green waits give up after `query_seconds` (`connect_seconds` while connecting)."""

    def wait(conn, timeout=None):
        limit = connect_seconds if conn.status == extensions.STATUS_SETUP else query_seconds
        while True:
            state = conn.poll()
            if state == extensions.POLL_OK:
                return
            if state not in (extensions.POLL_READ, extensions.POLL_WRITE):
                raise psycopg2.OperationalError(f"bad result from poll: {state!r}")
            eventlet.hubs.trampoline(conn.fileno(), read=state == extensions.POLL_READ,
                                     write=state == extensions.POLL_WRITE, timeout=limit,
                                     timeout_exc=DatabaseTimeout(f"the database did not answer within {limit:g} s"))

    extensions.set_wait_callback(wait)
