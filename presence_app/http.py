"""HTTP plumbing: URL matching and request contexts, proxies, chunked bodies, WebSocket extensions, pacing, headers."""
import io

from flask import request
from flask.ctx import RequestContext
from werkzeug.exceptions import NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import BaseConverter, Map, ValidationError
from werkzeug.routing.matcher import StateMachineMatcher

from .pacing import take_turn

MAX_AGENT_ID = 2**63 - 1  # the BIGINT of agents.id
SOCKET_IO_PATH = "/socket.io/"  # Flask-SocketIO's default path


class AgentIdConverter(BaseConverter):
    """<agent_id:...> in a path: 1..2^63-1, or the path does not match (404)."""

    regex = r"[0-9]{1,19}"

    def to_python(self, value):
        number = int(value)
        if not 1 <= number <= MAX_AGENT_ID:
            raise ValidationError()
        return number

    def to_url(self, value):
        return str(value)


class FixedPaths(StateMachineMatcher):
    """werkzeug's matcher, with the rules of fixed paths (no variables) looked up in a dict once matched.

    werkzeug's search is a closure that calls itself: each match leaves a reference cycle that
    only the garbage collector frees. At a thousand heartbeats a second that garbage fills the
    young generation, and each collection of it stopped the process for 15-25 ms.
    """

    LIMIT = 4096  # keys are rules x methods x trailing slash: bounded, whatever clients send

    def __init__(self, merge_slashes):
        super().__init__(merge_slashes)
        self.fixed = {}

    def update(self):
        super().update()
        self.fixed.clear()

    def match(self, domain, path, method, websocket):
        key = (domain, path, method, websocket)
        rule = self.fixed.get(key)
        if rule is None:
            rule, values = super().match(domain, path, method, websocket)
            if rule.arguments or rule.defaults or rule.alias or len(self.fixed) >= self.LIMIT:
                return rule, values
            self.fixed[key] = rule
        return rule, {}


class Routes(Map):
    """The app's URL map, matched by FixedPaths."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        matcher = FixedPaths(self.merge_slashes)
        for rule in self.iter_rules():
            if not rule.build_only:
                matcher.add(rule)
        self._matcher = matcher


class Context(RequestContext):
    """Flask's request context, with the Socket.IO path answered 404 without a search.

    Flask-SocketIO runs each socket event in a context of the socket's first request. No rule
    matches its path, so every event raised a NotFound and kept it: its traceback held the
    context and the whole stack, some 60 objects a socket event for the garbage collector.
    """

    def match_request(self):
        if (self.request.path + "/").startswith(SOCKET_IO_PATH):
            self.request.routing_exception = NotFound()  # never raised here: it holds no stack
        else:
            super().match_request()


def chunked_input(wsgi_app, limit):
    """Give a chunked body a Content-Length, so it is read (and capped) like any other body."""

    def middleware(environ, start_response):
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() and not environ.get("CONTENT_LENGTH"):
            # The server de-chunks wsgi.input; one byte past the limit is enough to answer 413.
            body = environ["wsgi.input"].read(limit + 1)
            environ["CONTENT_LENGTH"], environ["wsgi.input"] = str(len(body)), io.BytesIO(body)
            del environ["HTTP_TRANSFER_ENCODING"]  # werkzeug ignores Content-Length beside it
        return wsgi_app(environ, start_response)

    return middleware


def no_websocket_compression(wsgi_app):
    """Decline permessage-deflate, as socket.io's own server does by default.

    eventlet accepts it whenever a client offers it (Node's socket.io-client does), and then
    deflates every frame for every socket again: a roster snapshot or a broadcast costs a zlib
    pass per recipient, far more CPU than it saves in bytes.
    """

    def middleware(environ, start_response):
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return wsgi_app(environ, start_response)

    return middleware


def paced_sockets(wsgi_app):
    """Socket.IO requests (handshakes, upgrades, polls) take turns; REST requests never wait for one."""

    def middleware(environ, start_response):
        if environ.get("PATH_INFO", "").startswith(SOCKET_IO_PATH):
            take_turn()
        return wsgi_app(environ, start_response)

    return middleware


def init_app(app):
    """Wrap the WSGI app and add the converter and headers every answer carries."""
    app.url_map.converters["agent_id"] = AgentIdConverter
    app.wsgi_app = paced_sockets(no_websocket_compression(chunked_input(app.wsgi_app,
                                                                        app.config["MAX_CONTENT_LENGTH"])))
    hops = app.config["TRUSTED_PROXY_COUNT"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)

    @app.after_request
    def _headers(response):
        response.headers["X-Content-Type-Options"] = "nosniff"
        if request.path.startswith("/api/") or request.path == "/health":
            response.headers["Cache-Control"] = "no-store"  # personal and live: never cached
        return response
