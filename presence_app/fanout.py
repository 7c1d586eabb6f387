"""How notify's emits reach sockets: python-socketio's client managers, observed and fault tolerant.

Every manager here tells its observer (notify's batches) about each delivery to this process's
sockets, whichever process emitted it: that is where diff-mode batching happens.

python-socketio's RedisManager publishes and listens through one client with no timeouts and
backs off up to a minute after a failure. RedisQueue never lets a dead or frozen Redis hold a
request (publishing has short timeouts and, after a failure, is skipped for a moment: this
process's own sockets still get every event), and resubscribes within a second of Redis returning.
"""
import functools
import logging
import time

import socketio

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_SECONDS = 0.5
RETRY_SECONDS = 1  # the listener's and the publisher's wait before trying Redis again


class Observed(socketio.Manager):
    """Delivery to this process's sockets, reported to an observer once done."""

    observer = None

    def emit(self, event, data, namespace=None, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        room = to or room
        deliver = functools.partial(super().emit, event, data, namespace=namespace, room=room, skip_sid=skip_sid,
                                    callback=callback, **kwargs)
        if self.observer is None:
            return deliver()
        self.observer.delivered(event, room, data, self.rooms.get(namespace or "/", {}))
        if not self.observer.held(event, room, deliver):
            deliver()
        return None


class LocalQueue(Observed):
    """Embedded mode: one process, no message queue."""


class RedisQueue(socketio.RedisManager, Observed):
    """The Socket.IO message queue through Redis, with timeouts and prompt reconnection."""

    # Method order: RedisQueue, RedisManager, PubSubManager, Observed, Manager. Publishing
    # (PubSubManager.emit) goes first; every local delivery, this process's own events and those
    # of other processes alike, goes through Observed.emit.

    def __init__(self, url, options=None, write_only=False):
        # `options`: what every Redis client of the app gets (config REDIS_OPTIONS: TLS settings).
        super().__init__(url, channel="flask-socketio", write_only=write_only, redis_options=options or {})
        self._publish_down_until = 0.0

    def _redis_connect(self):
        # Publishing waits at most PUBLISH_TIMEOUT_SECONDS; listening blocks until a message comes,
        # with keepalive to notice a vanished peer, and a bounded connect.
        module = self._get_redis_module()
        self.redis = module.Redis.from_url(self.redis_url, socket_timeout=PUBLISH_TIMEOUT_SECONDS,
                                           socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS, **self.redis_options)
        self.connected = True

    def _subscribe(self):
        # Kept on self: a client that is garbage-collected closes its pool, and with it, over TLS, the
        # subscription's socket ("I/O operation on closed file").
        self.listener = self._get_redis_module().Redis.from_url(
            self.redis_url, socket_connect_timeout=RETRY_SECONDS, socket_keepalive=True, **self.redis_options)
        self.pubsub = self.listener.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(self.channel)

    def _publish(self, data):
        if time.monotonic() < self._publish_down_until:
            return None  # Redis failed a moment ago: other processes miss this event, as they would anyway
        try:
            if not self.connected:
                self._redis_connect()
            return self.redis.publish(self.channel, self.json.dumps(data))
        except Exception as exc:  # noqa: BLE001 - any Redis failure: skip publishing for a moment
            log.warning("Socket.IO message queue unavailable (%s); events reach this process's sockets only", exc)
            self.connected = False
            self._publish_down_until = time.monotonic() + RETRY_SECONDS
            return None

    def _redis_listen_with_retries(self):
        subscribed = False
        while True:
            try:
                if not subscribed:
                    self._subscribe()
                    subscribed = True
                    log.info("Socket.IO message queue subscribed")
                yield from self.pubsub.listen()
            except Exception as exc:  # noqa: BLE001 - Redis went away: subscribe again shortly
                if subscribed:
                    log.warning("Socket.IO message queue lost (%s); subscribing again", exc)
                subscribed = False
                time.sleep(RETRY_SECONDS)
