"""Configuration: read once from the environment, validated, handed to Flask."""
import os
import secrets

import limits

DEV_JWT_SECRET = "dev-only-insecure-secret-change-me-in-production!!"
ASYNC_MODES = ("eventlet", "gevent", "threading")
ENVIRONMENTS = ("production", "development", "testing")
LOG_FORMATS = ("text", "json")
TLS_VERIFY = ("required", "none")
MIN_METRICS_TOKEN = 16
# The contract's retry schedule of a webhook message: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
WEBHOOK_RETRIES = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
MAX_MESSAGE_BYTES = 16 * 1024  # a REST body or a Socket.IO message
DB_POOL_TIMEOUT_SECONDS = 5  # a request waits this long for a pooled connection, then answers 503


class ConfigError(RuntimeError):
    """The environment asks for something the service refuses to run with."""


def _number(env, name, default, minimum=0.1):
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
    return int(value) if value.is_integer() else value


def database_url(url):
    """SQLAlchemy URL for a DATABASE_URL as Heroku-style platforms write it."""
    # Heroku hands out postgres://, which SQLAlchemy no longer accepts; and SQLAlchemy 2.1
    # picks psycopg 3 for postgresql://, which blocks eventlet's loop: name psycopg2.
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url[len(scheme):]
    return url


def _engine_options(url, connect_timeout, statement_timeout_ms):
    # pool_pre_ping: a server connection that broke during an outage is replaced, not used
    # (a SQLite file has no connection to lose). The server cancels a statement past its timeout;
    # a frozen server cannot, which dbwait bounds on the client's side.
    if url.startswith("postgresql"):
        return {"pool_pre_ping": True, "pool_timeout": DB_POOL_TIMEOUT_SECONDS,
                "connect_args": {"connect_timeout": connect_timeout,
                                 "options": f"-c statement_timeout={statement_timeout_ms}"}}
    return {}


def _jwt_secret(env, app_env):
    secret = env.get("JWT_SECRET_KEY")
    if secret:
        if len(secret.encode()) < 32:
            raise ConfigError("JWT_SECRET_KEY must be at least 32 bytes")
        if secret == DEV_JWT_SECRET and app_env == "production":
            raise ConfigError("JWT_SECRET_KEY is the published development key; production needs a secret of its own")
        return secret
    if app_env == "production":
        raise ConfigError("JWT_SECRET_KEY is required in production (APP_ENV=production)")
    return DEV_JWT_SECRET if app_env == "development" else secrets.token_urlsafe(48)


def _limit(env, name, default):
    raw = env.get(name) or default
    try:
        limits.parse_many(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a rate such as '50 per second', got {raw!r}") from None
    return raw


def _count(env, name, default, minimum=1):
    value = _number(env, name, default, minimum=minimum)
    if not float(value).is_integer():
        raise ConfigError(f"{name} must be a whole number, got {env.get(name)!r}")
    return int(value)


def _origins(env):
    raw = env.get("CORS_ALLOWED_ORIGINS", "").strip()
    if not raw:
        return None  # Engine.IO's same-origin check
    if raw == "*":
        return "*"
    return [origin.strip() for origin in raw.split(",") if origin.strip()]


def _redis_options(env, url):
    """Keyword arguments every Redis client gets: the TLS settings of a rediss:// URL."""
    verify = env.get("REDIS_TLS_VERIFY") or "required"
    if verify not in TLS_VERIFY:
        raise ConfigError(f"REDIS_TLS_VERIFY must be one of {', '.join(TLS_VERIFY)}")
    ca_file = env.get("REDIS_TLS_CA_FILE") or None
    if ca_file and not os.path.isfile(ca_file):
        raise ConfigError(f"REDIS_TLS_CA_FILE is not a readable file: {ca_file!r}")
    if not (url or "").startswith("rediss://"):
        return {}
    if verify == "none":
        # Hosted Redis (Heroku's) presents a self-signed certificate: encrypted, but not verifiable.
        return {"ssl_cert_reqs": "none", "ssl_check_hostname": False}
    return {"ssl_cert_reqs": "required", "ssl_ca_certs": ca_file} if ca_file else {"ssl_cert_reqs": "required"}


def _metrics(env, app_env):
    token = env.get("METRICS_TOKEN") or None
    if token is not None and len(token) < MIN_METRICS_TOKEN:
        raise ConfigError(f"METRICS_TOKEN must be at least {MIN_METRICS_TOKEN} characters")
    port = _count(env, "METRICS_PORT", 0, minimum=0) or None
    log_every = _count(env, "METRICS_LOG_SECONDS", 0, minimum=0)
    if port and port > 65535:
        raise ConfigError(f"METRICS_PORT must be a TCP port (1-65535), got {port}")
    if port and token is None and app_env == "production":
        raise ConfigError("METRICS_PORT needs METRICS_TOKEN in production: the worker's metrics would be open")
    return {"METRICS_TOKEN": token, "METRICS_PORT": port, "METRICS_LOG_SECONDS": log_every,
            "METRICS_SOURCE": env.get("DYNO") or None}


def _webhooks(env, app_env):
    allow_private = env.get("WEBHOOK_ALLOW_PRIVATE", "0")
    if allow_private not in ("0", "1"):
        raise ConfigError(f"WEBHOOK_ALLOW_PRIVATE must be 0 or 1, got {allow_private!r}")
    ca_file = env.get("WEBHOOK_CA_FILE") or None
    if ca_file and not os.path.isfile(ca_file):
        raise ConfigError(f"WEBHOOK_CA_FILE is not a readable file: {ca_file!r}")
    raw = env.get("WEBHOOK_RETRY_SECONDS") or ",".join(map(str, WEBHOOK_RETRIES))
    try:
        retries = tuple(float(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError(f"WEBHOOK_RETRY_SECONDS must be numbers separated by commas, got {raw!r}") from None
    if not retries or min(retries) <= 0:
        raise ConfigError("WEBHOOK_RETRY_SECONDS must be positive numbers")
    # Development and tests only: a receiver on this machine, a test CA, a schedule of seconds.
    if app_env == "production" and (allow_private == "1" or ca_file or retries != WEBHOOK_RETRIES):
        raise ConfigError("WEBHOOK_ALLOW_PRIVATE, WEBHOOK_CA_FILE and WEBHOOK_RETRY_SECONDS are for development "
                          "and tests only; production refuses them")
    return {"WEBHOOK_ALLOW_PRIVATE": allow_private == "1", "WEBHOOK_CA_FILE": ca_file,
            "WEBHOOK_RETRY_SECONDS": retries, "WEBHOOK_TIMEOUT_SECONDS": _number(env, "WEBHOOK_TIMEOUT_SECONDS", 10),
            "WEBHOOK_POLL_SECONDS": 0.2}


def from_env(env, instance_path):
    """Return the Flask config mapping built from an environment mapping."""
    app_env = env.get("APP_ENV", "production")
    if app_env not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}")
    async_mode = env.get("ASYNC_MODE", "eventlet")
    if async_mode not in ASYNC_MODES:
        raise ConfigError(f"ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}")
    redis_url = env.get("REDIS_URL") or None
    url = database_url(env.get("DATABASE_URL") or f"sqlite:///{os.path.join(instance_path, 'presence.db')}")
    typing_timeout = _number(env, "TYPING_TIMEOUT_SECONDS", 30)
    beat = _number(env, "PROCESS_BEAT_SECONDS", 5)
    log_format = env.get("LOG_FORMAT") or "text"
    connect_timeout = _count(env, "DB_CONNECT_TIMEOUT_SECONDS", 3)
    statement_timeout = _count(env, "DB_STATEMENT_TIMEOUT_MS", 5000, minimum=100)
    if log_format not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
    return {
        "APP_ENV": app_env,
        "ASYNC_MODE": async_mode,
        "PORT": _count(env, "PORT", 8001),
        # A development server answers only this machine unless HOST says otherwise.
        "HOST": env.get("HOST") or ("127.0.0.1" if app_env == "development" else "0.0.0.0"),
        "REDIS_URL": redis_url,
        "REDIS_OPTIONS": _redis_options(env, redis_url),
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(url, connect_timeout, statement_timeout),
        "DB_CONNECT_TIMEOUT_SECONDS": connect_timeout,
        "DB_STATEMENT_TIMEOUT_MS": statement_timeout,
        "JWT_SECRET_KEY": _jwt_secret(env, app_env),
        "JWT_ALGORITHM": "HS256",
        "JWT_DECODE_ALGORITHMS": ["HS256"],
        "JWT_TOKEN_LOCATION": ["headers"],
        "JWT_ACCESS_TOKEN_EXPIRES": _number(env, "TOKEN_TTL_SECONDS", 12 * 3600, minimum=1),
        # Checked on every token when set; the standalone login's own tokens carry them too.
        "JWT_DECODE_AUDIENCE": env.get("JWT_AUDIENCE") or None,
        "JWT_DECODE_ISSUER": env.get("JWT_ISSUER") or None,
        "JWT_ENCODE_AUDIENCE": env.get("JWT_AUDIENCE") or None,
        "JWT_ENCODE_ISSUER": env.get("JWT_ISSUER") or None,
        "CORS_ALLOWED_ORIGINS": _origins(env),
        "PRESENCE_TIMEOUT_SECONDS": _number(env, "PRESENCE_TIMEOUT_SECONDS", 120),
        "PRESENCE_SWEEP_SECONDS": _number(env, "PRESENCE_SWEEP_SECONDS", 60),
        "TYPING_TIMEOUT_SECONDS": typing_timeout,
        # Stale typing is swept six times per timeout (at most every 5 s), so an
        # indicator never outlives TYPING_TIMEOUT_SECONDS by more than that.
        "TYPING_SWEEP_SECONDS": max(1, min(5, int(typing_timeout / 6))),
        "DISCONNECT_GRACE_SECONDS": _number(env, "DISCONNECT_GRACE_SECONDS", 10, minimum=0),
        # On SIGTERM /health answers 503 this long before the listener closes: a balancer checking
        # every second takes the process out of rotation first (deploy/haproxy.cfg).
        "DRAIN_SECONDS": _number(env, "DRAIN_SECONDS", 2, minimum=0),
        "PROCESS_BEAT_SECONDS": beat,
        "IDLE_AWAY_SECONDS": _number(env, "IDLE_AWAY_SECONDS", 300, minimum=1),
        "STATUS_SWEEP_SECONDS": _number(env, "STATUS_SWEEP_SECONDS", 5, minimum=1),
        "PROCESS_DEAD_SECONDS": 3 * beat,
        "SCHEDULER_POLL_SECONDS": 1,
        "REPORT_ROLLUP_SECONDS": 600,  # closed days are rolled up within ten minutes (plus a margin)
        "LEDGER_KEEP_SECONDS": 3600,  # months are created two ahead: an hourly look is plenty
        "LEDGER_RETENTION_DAYS": _count(env, "LEDGER_RETENTION_DAYS", 400),
        "API_RATE_LIMIT": _limit(env, "API_RATE_LIMIT", "50 per second"),
        "SERVICE_RATE_LIMIT": _limit(env, "SERVICE_RATE_LIMIT", "1000 per second"),
        "LOGIN_RATE_LIMIT": _limit(env, "LOGIN_RATE_LIMIT", "10 per minute"),
        "SOCKET_RATE_LIMIT": _limit(env, "SOCKET_RATE_LIMIT", "20 per second"),
        "MAX_CHATS_PER_SOCKET": _count(env, "MAX_CHATS_PER_SOCKET", 100),
        "MAX_SOCKETS_PER_AGENT": _count(env, "MAX_SOCKETS_PER_AGENT", 20),
        "TRUSTED_PROXY_COUNT": _count(env, "TRUSTED_PROXY_COUNT", 0, minimum=0),
        "MAX_CONNECTIONS": _count(env, "MAX_CONNECTIONS", 10_000),
        "PRESENCE_BATCH_MS": _count(env, "PRESENCE_BATCH_MS", 250),
        "COUNTS_INTERVAL_MS": _count(env, "COUNTS_INTERVAL_MS", 1000, minimum=50),
        "SYNC_WINDOW_SECONDS": _count(env, "SYNC_WINDOW_SECONDS", 300),
        "DEFAULT_CAPACITY": _count(env, "DEFAULT_CAPACITY", 3, minimum=0),
        "MAX_CONTENT_LENGTH": MAX_MESSAGE_BYTES,
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
        "LOG_FORMAT": log_format,
        **_metrics(env, app_env),
        **_webhooks(env, app_env),
    }
