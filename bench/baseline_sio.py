"""Bare python-socketio baseline of bench_sockets.py: Flask-SocketIO on eventlet, JWT on connect, one room.

    python bench/baseline_sio.py --port 18101
"""
import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402

import jwt  # noqa: E402
from flask import Flask, jsonify  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    secret = os.environ["JWT_SECRET_KEY"]
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="eventlet", logger=False, engineio_logger=False)

    @app.get("/health")
    def health():
        return jsonify(ok=True)

    @socketio.on("connect")
    def on_connect(auth):
        try:
            claims = jwt.decode((auth or {}).get("token", ""), secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            return False
        join_room("org:" + claims.get("org", "default"))
        return None

    gc.collect()
    gc.freeze()
    socketio.run(app, host="127.0.0.1", port=args.port, log_output=False, max_size=20000)


if __name__ == "__main__":
    main()
