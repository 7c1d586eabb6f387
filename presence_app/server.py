"""The web process: listen, serve HTTP and Socket.IO, and stop cleanly on SIGTERM (or Ctrl-C)."""
import errno
import gc
import logging
import os
import resource
import signal
import socket

from . import logs
from .extensions import socketio
from .runtime import start_web, stop_web
from .services.health import DRAINING

GC_YOUNG_THRESHOLD = 50_000
log = logging.getLogger(__name__)
SPARE_FDS = 256  # files, the database pool and Redis besides the client connections
HTTP_HEADROOM = 256  # REST requests are still served with MAX_CONNECTIONS sockets open
BACKLOG = 2048  # a shift-start herd connects at once; the kernel caps it at net.core.somaxconn


class PortBusy(RuntimeError):
    """Another process listens on the port already."""


def connection_limit(wanted):
    """Raise the open-file limit for `wanted` sockets if allowed; return how many this process can hold."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + SPARE_FDS
    if soft < needed and (hard == resource.RLIM_INFINITY or hard > soft):
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    if soft < needed:
        log.warning("MAX_CONNECTIONS=%s needs %s open files but the limit is %s (ulimit -n); this process "
                    "accepts at most %s connections: raise the hard limit (ulimit -Hn, LimitNOFILE=)",
                    wanted, needed, soft, max(1, soft - SPARE_FDS))
        return max(1, soft - SPARE_FDS)
    return wanted


def listen(host, port):
    """A listening socket that no other process shares (no SO_REUSEPORT: a second server fails loudly)."""
    import eventlet

    try:
        listener = eventlet.listen((host, port), backlog=BACKLOG, reuse_port=False)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortBusy(f"port {port} on {host} is in use by another process: stop it, or set PORT") from None
        raise
    # Accepted sockets inherit it. With Nagle on, the tail of an answer larger than one segment (a
    # 100-agent candidates list) waited for the client's delayed ACK: 40 ms on a keep-alive connection.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return listener


def serve(app):
    """Run the web process until SIGTERM or SIGINT, then stop cleanly and exit."""
    config = app.config
    logs.startup(config, "web")
    limit = connection_limit(config["MAX_CONNECTIONS"] + HTTP_HEADROOM)
    mode = config["ASYNC_MODE"]
    listener = listen(config["HOST"], config["PORT"]) if mode == "eventlet" else _probe_port(config)
    start_web(app)
    # What start-up built lives as long as the process: keep it out of every garbage collection,
    # whose full passes would otherwise walk it again and again (pauses grow with the heap).
    gc.collect()
    gc.freeze()
    # A broadcast allocates a packet per recipient: with the default threshold (700) one emit to
    # thousands of sockets runs dozens of young collections, each walking every young socket object.
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 20)
    for signum in (signal.SIGTERM, signal.SIGINT):
        # The handler only schedules the stop: no I/O may run inside a signal handler under eventlet.
        signal.signal(signum, lambda *_: _on_signal(app, listener))
    log.info("serving on http://%s:%s (%s, at most %s connections)", config["HOST"], config["PORT"], mode, limit)
    if mode == "eventlet":
        import eventlet.wsgi

        if config["LOG_LEVEL"] != "DEBUG":  # eventlet logs each client that hangs up ("socket shutdown error")
            logging.getLogger("eventlet.wsgi").setLevel(logging.WARNING)
        eventlet.wsgi.server(listener, app, max_size=limit, log_output=config["LOG_LEVEL"] == "DEBUG",
                             log=logging.getLogger("eventlet.wsgi"))
    else:
        socketio.run(app, host=config["HOST"], port=config["PORT"], log_output=config["LOG_LEVEL"] == "DEBUG",
                     allow_unsafe_werkzeug=mode == "threading")


def _probe_port(config):
    # gevent's and werkzeug's servers bind the port themselves; fail as clearly when it is taken.
    with socket.socket() as probe:
        try:
            probe.bind((config["HOST"], config["PORT"]))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortBusy(f"port {config['PORT']} on {config['HOST']} is in use by another process: "
                               "stop it, or set PORT") from None
            raise
    return None


def _on_signal(app, listener):
    # A second SIGTERM (or Ctrl-C) while draining changes nothing: the stop is under way.
    if not app.extensions.get(DRAINING):
        app.extensions[DRAINING] = True
        socketio.start_background_task(_stop, app, listener)


def _stop(app, listener):
    # Still serving while /health answers 503: the balancer moves new requests and sockets away
    # first, so none of them meets a closed port.
    log.info("draining for %s s (/health answers 503), then stopping", app.config["DRAIN_SECONDS"])
    socketio.sleep(app.config["DRAIN_SECONDS"])
    if listener is not None:
        listener.close()  # no new connections from here on
    stop_web(app)
    logging.shutdown()
    os._exit(0)  # every change is committed; the server's loop would wait on its open sockets
