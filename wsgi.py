"""Web entry (Procfile `web`): patch for the async mode, then serve HTTP and Socket.IO."""
import os
import warnings

# Known and documented (README, "Async mode"); the banner would greet every start.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
# eventlet's DNS module imports dnspython's DSA support; with cryptography installed that warns at
# import, before logging is set up, as a free-text line that would break LOG_FORMAT=json.
warnings.filterwarnings("ignore", message="DSA is deprecated")

ASYNC_MODE = os.environ.get("ASYNC_MODE", "eventlet")
if ASYNC_MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()
elif ASYNC_MODE == "gevent":
    from gevent import monkey

    monkey.patch_all()

import sys  # noqa: E402

from presence_app import create_app  # noqa: E402
from presence_app.server import PortBusy, serve  # noqa: E402

app = create_app()

if __name__ == "__main__":
    try:
        serve(app)
    except PortBusy as exc:
        sys.exit(f"presence_app: {exc}")
