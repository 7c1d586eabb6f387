"""Baseline (b) of bench_requests.py: the minimal honest heartbeat, on the database under test.

Flask on eventlet (socketio.run, the web process's own stack), PyJWT HS256 decode, one
`UPDATE presence SET last_seen = now WHERE agent_id = ?` and a commit, a small JSON answer.
SQLite through sqlite3 (WAL, synchronous=NORMAL, as the project runs it), PostgreSQL through
psycopg2 (green under eventlet): one connection for SQLite, as the shared bench's (b) does; a
small pool for PostgreSQL, whose green connections wait on the network while other requests run
(one shared connection would be used by two requests at once).

    python bench/baseline_app.py --port 18001 --url sqlite:////tmp/x.db | postgresql://...
"""
import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import queue  # noqa: E402
import sqlite3  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import jwt  # noqa: E402
from flask import Flask, jsonify, request  # noqa: E402
from flask_socketio import SocketIO  # noqa: E402

POOL_SIZE = 10  # between the 5 and 15 connections of SQLAlchemy's default pool, which the project uses


def connect(url):
    """A queue of DB-API connections and the UPDATE in their parameter style."""
    pool = queue.LifoQueue()
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url[len("sqlite:///"):], check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        pool.put(conn)
        return pool, "UPDATE presence SET last_seen = ? WHERE agent_id = ?"
    import psycopg2

    for _ in range(POOL_SIZE):
        pool.put(psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://")))
    return pool, "UPDATE presence SET last_seen = %s WHERE agent_id = %s"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--url", required=True)
    args = parser.parse_args()
    secret = os.environ["JWT_SECRET_KEY"]
    pool, statement = connect(args.url)
    app = Flask(__name__)

    @app.get("/health")
    def health():
        return jsonify(ok=True)

    @app.post("/hb")
    def heartbeat():
        header = request.headers.get("Authorization", "")
        try:
            claims = jwt.decode(header[7:], secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
        except jwt.PyJWTError:
            return jsonify(error="unauthorized"), 401
        now = datetime.now(UTC).replace(tzinfo=None)
        conn = pool.get()
        try:
            cursor = conn.cursor()
            cursor.execute(statement, (now, int(claims["sub"])))
            conn.commit()
        finally:
            pool.put(conn)
        if cursor.rowcount != 1:
            return jsonify(error="not_found"), 404
        return jsonify(agent_id=int(claims["sub"]), last_seen=now.strftime("%Y-%m-%dT%H:%M:%SZ"))

    socketio = SocketIO(app, async_mode="eventlet", logger=False, engineio_logger=False)
    socketio.run(app, host="127.0.0.1", port=args.port, log_output=False)


if __name__ == "__main__":
    main()
