"""A real HTTPS webhook receiver for the tests: a thread serving TLS with a certificate of a throwaway CA (trustme)."""
import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import trustme


class Receiver:
    """Records every POST (headers, body, when); answers the statuses of `script` in turn, then `status`."""

    def __init__(self, tmp_path):
        self.ca = trustme.CA()
        self.ca_file = str(tmp_path / "webhook-ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        self.received, self.script, self.status, self.delay = [], [], 200, 0.0
        self.flying = self.most_flying = 0  # requests being answered now, and the most at once
        self.lock = threading.Lock()
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("localhost", "127.0.0.1", "::1").configure_cert(self.context)
        self.port = 0
        self.up()
        self.url = f"https://localhost:{self.port}/hooks?x=1"

    def up(self):
        """Listen (again, on the same port)."""
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self.server.daemon_threads = True
        self.server.socket = self.context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self):
        """Stop listening: connections are refused until up()."""
        self.server.shutdown()
        self.server.server_close()

    def answer(self):
        with self.lock:
            return self.script.pop(0) if self.script else self.status

    def record(self, handler, body, status):
        with self.lock:
            self.received.append({"headers": {k.lower(): v for k, v in handler.headers.items()}, "body": body,
                                  "at": time.time(), "path": handler.path, "status": status})

    def messages(self, accepted=False):
        """The bodies received (only those answered 2xx if `accepted`), parsed, in order of receipt."""
        with self.lock:
            return [json.loads(r["body"]) for r in self.received if not accepted or r["status"] < 300]

    def events(self):
        """Every event received, in order of receipt (duplicates kept)."""
        return [event for message in self.messages() for event in message["data"]["events"]]

    def close(self):
        self.down()


def _handler(receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.answer()
            with receiver.lock:
                receiver.flying += 1
                receiver.most_flying = max(receiver.most_flying, receiver.flying)
            receiver.record(self, body, status)
            time.sleep(receiver.delay)
            with receiver.lock:
                receiver.flying -= 1
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    return Handler
