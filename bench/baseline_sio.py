"""Bare python-socketio baseline of bench_sockets.py: Flask-SocketIO on eventlet, JWT on connect, one room.

With --honest DB, the minimal honest connect of a team console (bench_connect.py): the same, plus one
SQLite transaction (first sight of the agent, its socket row, its presence counted and its seq moved),
its team's roster read and sent to it, and its connect announced to its team's room.

    python bench/baseline_sio.py --port 18101 [--honest /tmp/honest.db]
"""
import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402
import sqlite3  # noqa: E402

import jwt  # noqa: E402
from flask import Flask, jsonify  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--honest", metavar="DB", help="SQLite file of the minimal honest connect")
    args = parser.parse_args()
    secret = os.environ["JWT_SECRET_KEY"]
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="eventlet", logger=False, engineio_logger=False)

    @app.get("/health")
    def health():
        return jsonify(ok=True)

    honest = args.honest and _database(args.honest)

    @socketio.on("connect")
    def on_connect(auth):
        try:
            claims = jwt.decode((auth or {}).get("token", ""), secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            return False
        if honest:
            return _honest_connect(socketio, honest, claims)
        join_room("org:" + claims.get("org", "default"))
        return None

    gc.collect()
    gc.freeze()
    socketio.run(app, host="127.0.0.1", port=args.port, log_output=False, max_size=20000)


def _database(path):
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL"):
        db.execute(f"PRAGMA {pragma}")
    db.executescript("""
        CREATE TABLE IF NOT EXISTS presence (agent_id INTEGER PRIMARY KEY, org TEXT, team TEXT, name TEXT,
            status TEXT, connected INTEGER, connections INTEGER, seq INTEGER);
        CREATE INDEX IF NOT EXISTS presence_team ON presence (org, team);
        CREATE TABLE IF NOT EXISTS sockets (sid TEXT PRIMARY KEY, agent_id INTEGER);
    """)
    return db


def _honest_connect(socketio, db, claims):
    from flask import request

    agent, org, team = int(claims["sub"]), claims.get("org", "default"), (claims.get("teams") or [""])[0]
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT OR IGNORE INTO presence VALUES (?, ?, ?, ?, 'online', 0, 0, 0)",
               (agent, org, team, claims.get("name", "")))
    db.execute("INSERT INTO sockets VALUES (?, ?)", (request.sid, agent))
    db.execute("UPDATE presence SET connected = 1, connections = connections + 1, seq = seq + 1 WHERE agent_id = ?",
               (agent,))
    db.execute("COMMIT")
    columns = ("agent_id", "name", "status", "connected", "seq")
    roster = [dict(zip(columns, row, strict=True)) for row in db.execute(
        "SELECT agent_id, name, status, connected, seq FROM presence WHERE org = ? AND team = ? ORDER BY agent_id",
        (org, team))]
    room = f"team:{org}:{team}"
    join_room(room)
    socketio.emit("presence_state", {"agents": roster}, to=request.sid)
    mine = next(found for found in roster if found["agent_id"] == agent)
    socketio.emit("agent_presence_changed", mine, to=room, skip_sid=request.sid)
    return None


if __name__ == "__main__":
    main()
