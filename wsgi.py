"""Web entry (Procfile `web`): patch for the async mode, then serve HTTP and Socket.IO."""
import os
import warnings

# Known and documented (README, "Async mode"); the banner would greet every start.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

ASYNC_MODE = os.environ.get("ASYNC_MODE", "eventlet")
if ASYNC_MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()
elif ASYNC_MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()

import signal  # noqa: E402
import sys  # noqa: E402

from presence_app import create_app  # noqa: E402
from presence_app.extensions import socketio  # noqa: E402
from presence_app.runtime import retire_web, start_web  # noqa: E402

app = create_app()


def _stop(_signum, _frame):
    retire_web(app)
    sys.exit(0)


if __name__ == "__main__":
    start_web(app)
    signal.signal(signal.SIGTERM, _stop)
    socketio.run(app, host=app.config["HOST"], port=app.config["PORT"],
                 log_output=app.config["LOG_LEVEL"] == "DEBUG",
                 allow_unsafe_werkzeug=app.config["ASYNC_MODE"] == "threading")
