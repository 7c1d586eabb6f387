"""Configuration: secrets never have production defaults; bad settings stop the start."""
import pytest

from presence_app import create_app
from presence_app.config import DEV_JWT_SECRET, ConfigError, from_env

GOOD_SECRET = "s" * 32


def test_production_refuses_a_missing_jwt_secret():
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY is required"):
        from_env({}, "/tmp")


def test_production_is_the_default_environment():
    assert from_env({"JWT_SECRET_KEY": GOOD_SECRET}, "/tmp")["APP_ENV"] == "production"


@pytest.mark.parametrize("app_env", ["production", "development", "testing"])
def test_a_short_jwt_secret_is_refused_everywhere(app_env):
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        from_env({"APP_ENV": app_env, "JWT_SECRET_KEY": "s" * 31}, "/tmp")


def test_development_falls_back_to_the_dev_only_secret():
    assert from_env({"APP_ENV": "development"}, "/tmp")["JWT_SECRET_KEY"] == DEV_JWT_SECRET


def test_testing_without_a_secret_gets_a_random_one_never_the_dev_secret():
    first = from_env({"APP_ENV": "testing"}, "/tmp")["JWT_SECRET_KEY"]
    second = from_env({"APP_ENV": "testing"}, "/tmp")["JWT_SECRET_KEY"]
    assert first != second and DEV_JWT_SECRET not in (first, second) and len(first) >= 32


def test_create_app_refuses_to_start_in_production_without_a_secret(tmp_path):
    with pytest.raises(ConfigError):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})


@pytest.mark.parametrize("given, expected", [
    ("postgres://u:p@db:5432/app", "postgresql+psycopg2://u:p@db:5432/app"),
    ("postgresql://u@db/app", "postgresql+psycopg2://u@db/app"),
    ("postgresql+psycopg2://u@db/app", "postgresql+psycopg2://u@db/app"),
    ("sqlite:////tmp/p.db", "sqlite:////tmp/p.db"),
])
def test_database_url_accepts_heroku_style_and_uses_psycopg2(given, expected):
    config = from_env({"APP_ENV": "testing", "DATABASE_URL": given}, "/tmp")
    assert config["SQLALCHEMY_DATABASE_URI"] == expected


def test_database_url_defaults_to_sqlite_in_the_instance_folder():
    assert from_env({"APP_ENV": "testing"}, "/srv/instance")["SQLALCHEMY_DATABASE_URI"] == \
        "sqlite:////srv/instance/presence.db"


def test_documented_defaults():
    config = from_env({"APP_ENV": "testing"}, "/tmp")
    assert (config["PORT"], config["PRESENCE_TIMEOUT_SECONDS"], config["PRESENCE_SWEEP_SECONDS"],
            config["TYPING_TIMEOUT_SECONDS"], config["DISCONNECT_GRACE_SECONDS"]) == (8001, 120, 60, 30, 10)
    assert config["REDIS_URL"] is None and config["CORS_ALLOWED_ORIGINS"] is None
    assert config["ASYNC_MODE"] == "eventlet" and config["TYPING_SWEEP_SECONDS"] == 5
    assert config["MAX_CONTENT_LENGTH"] == 16 * 1024


@pytest.mark.parametrize("name, value, message", [
    ("PRESENCE_TIMEOUT_SECONDS", "two minutes", "must be a number"),
    ("PRESENCE_SWEEP_SECONDS", "0", "at least"),
    ("PORT", "-1", "at least"),
    ("ASYNC_MODE", "asyncio", "ASYNC_MODE must be one of"),
    ("APP_ENV", "staging", "APP_ENV must be one of"),
])
def test_bad_settings_are_refused_with_their_name(name, value, message):
    with pytest.raises(ConfigError, match=message):
        from_env({"APP_ENV": "testing", name: value}, "/tmp")


def test_cors_origins_are_a_comma_separated_list_or_star():
    assert from_env({"APP_ENV": "testing", "CORS_ALLOWED_ORIGINS": "https://a.example, https://b.example"},
                    "/tmp")["CORS_ALLOWED_ORIGINS"] == ["https://a.example", "https://b.example"]
    assert from_env({"APP_ENV": "testing", "CORS_ALLOWED_ORIGINS": "*"}, "/tmp")["CORS_ALLOWED_ORIGINS"] == "*"


def test_typing_sweep_follows_the_typing_timeout():
    assert from_env({"APP_ENV": "testing", "TYPING_TIMEOUT_SECONDS": "3"}, "/tmp")["TYPING_SWEEP_SECONDS"] == 1
    assert from_env({"APP_ENV": "testing", "TYPING_TIMEOUT_SECONDS": "12"}, "/tmp")["TYPING_SWEEP_SECONDS"] == 2


def test_worker_role_needs_redis(tmp_path):
    with pytest.raises(ConfigError, match="REDIS_URL"):
        create_app({"APP_ENV": "testing", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}, role="worker")


def test_production_refuses_the_published_development_key():
    with pytest.raises(ConfigError, match="published development key"):
        from_env({"JWT_SECRET_KEY": DEV_JWT_SECRET}, "/tmp")
    assert from_env({"APP_ENV": "development", "JWT_SECRET_KEY": DEV_JWT_SECRET}, "/tmp")["JWT_SECRET_KEY"]


@pytest.mark.parametrize("env, host", [
    ({"APP_ENV": "development"}, "127.0.0.1"),
    ({"APP_ENV": "development", "HOST": "0.0.0.0"}, "0.0.0.0"),
    ({"JWT_SECRET_KEY": GOOD_SECRET}, "0.0.0.0"),
    ({"JWT_SECRET_KEY": GOOD_SECRET, "HOST": "10.0.0.5"}, "10.0.0.5"),
])
def test_development_binds_loopback_unless_host_says_otherwise(env, host):
    assert from_env(env, "/tmp")["HOST"] == host


def test_v1_1_limits_have_their_documented_defaults():
    config = from_env({"APP_ENV": "testing"}, "/tmp")
    assert (config["SOCKET_RATE_LIMIT"], config["MAX_CHATS_PER_SOCKET"], config["MAX_SOCKETS_PER_AGENT"],
            config["TRUSTED_PROXY_COUNT"]) == ("20 per second", 100, 20, 0)
    assert config["JWT_DECODE_AUDIENCE"] is None and config["JWT_DECODE_ISSUER"] is None


@pytest.mark.parametrize("name, value, message", [
    ("SOCKET_RATE_LIMIT", "lots", "must be a rate"),
    ("API_RATE_LIMIT", "50 per fortnight", "must be a rate"),
    ("MAX_CHATS_PER_SOCKET", "0", "at least 1"),
    ("MAX_SOCKETS_PER_AGENT", "2.5", "whole number"),
    ("TRUSTED_PROXY_COUNT", "-1", "at least 0"),
])
def test_bad_limits_are_refused_with_their_name(name, value, message):
    with pytest.raises(ConfigError, match=message):
        from_env({"APP_ENV": "testing", name: value}, "/tmp")


def test_supervisor_settings_defaults_and_refusals():
    config = from_env({"APP_ENV": "testing"}, "/tmp")
    assert (config["IDLE_AWAY_SECONDS"], config["STATUS_SWEEP_SECONDS"]) == (300, 5)
    for name in ("IDLE_AWAY_SECONDS", "STATUS_SWEEP_SECONDS"):
        with pytest.raises(ConfigError, match=f"{name} must be at least 1"):
            from_env({"APP_ENV": "testing", name: "0.5"}, "/tmp")
