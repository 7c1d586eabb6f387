"""What observability adds to each request on the heartbeat path, in microseconds (timeit, no database).

The request id and start-time middlewares, the request-timing teardown and the heartbeat count,
run around a bare WSGI app inside a real request context, against that bare app alone.
"""
import os
import sys
import tempfile
import timeit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from presence_app import create_app, logs, metrics  # noqa: E402

ROUNDS = 100_000


def bare(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]


def ignore(status, headers, exc_info=None):
    return None


def main():
    app = create_app({"APP_ENV": "testing", "ASYNC_MODE": "threading", "JWT_SECRET_KEY": "x" * 40,
                      "DATABASE_URL": f"sqlite:///{tempfile.mkdtemp()}/bench.db"})
    wrapped = logs.request_ids(metrics.started_at(bare))
    with app.test_request_context("/api/v1/presence/heartbeat/", method="POST") as ctx:
        environ = ctx.request.environ
        for given in (None, "3f2a9c1e-from-the-proxy"):
            def observed(given=given):
                if given:
                    environ["HTTP_X_REQUEST_ID"] = given
                wrapped(environ, ignore)
                metrics.observe_request(None)
                metrics.heartbeat("rest")

            base = min(timeit.repeat(lambda: bare(environ, ignore), number=ROUNDS, repeat=7)) / ROUNDS
            full = min(timeit.repeat(observed, number=ROUNDS, repeat=7)) / ROUNDS
            print(f"X-Request-ID {'given' if given else 'made here'}: {(full - base) * 1e6:.2f} us added per request")


if __name__ == "__main__":
    main()
