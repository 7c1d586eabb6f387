"""Rate limits, counted by the `limits` library: per identity, per address, per email, per socket."""
import logging
import threading
import time

from flask import current_app
from limits import parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from . import metrics
from .errors import TooManyRequests
from .keys import key

log = logging.getLogger(__name__)
# After the shared storage (Redis) fails, count in this process's memory for this long before
# trying it again: requests never wait on a dead or frozen Redis, and limits still hold per process.
FALLBACK_SECONDS = 10
REDIS_TIMEOUT_SECONDS = 0.25


class Windows(Storage):
    """Fixed-window counters in this process's memory, for the `limits` strategies.

    limits' own MemoryStorage starts a timer thread on every expiry, which under eventlet costs
    milliseconds a hit (green threading enumerates every greenthread); these expire lazily.
    """

    STORAGE_SCHEME = ["presence-memory"]
    SWEEP_EVERY = 10_000

    def __init__(self, uri=None, **options):
        super().__init__(uri, **options)
        self.counts, self.lock, self.hits = {}, threading.Lock(), 0

    @property
    def base_exceptions(self):
        return ()

    def incr(self, key, expiry, amount=1):
        now = time.time()
        with self.lock:
            self.hits += 1
            if self.hits % self.SWEEP_EVERY == 0:
                self.counts = {k: v for k, v in self.counts.items() if v[1] > now}
            count, ends = self.counts.get(key, (0, 0.0))
            if ends <= now:
                count, ends = 0, now + expiry
            self.counts[key] = (count + amount, ends)
            return count + amount

    def get(self, key):
        count, ends = self.counts.get(key, (0, 0.0))
        return count if ends > time.time() else 0

    def get_expiry(self, key):
        return self.counts.get(key, (0, time.time()))[1]

    def check(self):
        return True

    def reset(self):
        self.counts = {}

    def clear(self, key):
        self.counts.pop(key, None)


class Throttle:
    """The limits of one app, with its shared storage failing open to memory."""

    def __init__(self, config):
        self.local = FixedWindowRateLimiter(Windows())
        url = config["REDIS_URL"]
        storage = storage_from_string(url, socket_timeout=REDIS_TIMEOUT_SECONDS,
                                      socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                                      **config["REDIS_OPTIONS"]) if url else None
        self.shared = FixedWindowRateLimiter(storage) if storage else self.local
        self.limits = {name: parse_many(config[f"{name.upper()}_RATE_LIMIT"])
                       for name in ("api", "login", "socket", "service")}
        self._fallback_until = 0.0

    def hit(self, name, *parts, local=False):
        """Count one hit of limit `name` for the key made of `parts`; raise TooManyRequests over it."""
        limiter = self.local if local else self._shared()
        counted = key(name, *parts)
        for item in self.limits[name]:
            if not self._hit(limiter, item, counted):
                reset = self._safe(limiter.get_window_stats, item, counted)
                wait = reset.reset_time - time.time() if reset else item.get_expiry()
                metrics.refused(name)
                raise TooManyRequests(f"too many requests: at most {item}", retry_after=wait)

    def _shared(self):
        return self.shared if time.monotonic() >= self._fallback_until else self.local

    def _hit(self, limiter, item, counted):
        allowed = self._safe(limiter.hit, item, counted)
        return self.local.hit(item, counted) if allowed is None else allowed

    def _safe(self, call, *args):
        """Call the storage; on failure, fall back to memory for a while and say so once."""
        try:
            return call(*args)
        except Exception as exc:  # noqa: BLE001 - any storage failure fails open
            if self._fallback_until < time.monotonic():
                log.warning("rate-limit storage unavailable (%s); counting in memory for %ss",
                            exc, FALLBACK_SECONDS)
            self._fallback_until = time.monotonic() + FALLBACK_SECONDS
            return None


def init_app(app):
    """Give the app its Throttle."""
    app.extensions["presence_throttle"] = Throttle(app.config)


def hit(name, *parts, local=False):
    """Count a hit against the current app's limit `name` (see Throttle.hit)."""
    current_app.extensions["presence_throttle"].hit(name, *parts, local=local)
