"""rediss://: web and worker processes talk to a TLS-only Redis (a throwaway CA and certificate made here)."""
import os
import subprocess

import pytest
import redis
import requests

from presence_app import create_app
from presence_app.config import ConfigError

from .clients import Rest
from .support import CHAT, SECRET, Proc, free_port, redis_binary, wait_for

pytestmark = pytest.mark.processes

FAST = {"TYPING_TIMEOUT_SECONDS": 2, "PROCESS_BEAT_SECONDS": 1, "DISCONNECT_GRACE_SECONDS": 1}


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(folder):
    """A CA, and a server certificate it signed for 127.0.0.1 and localhost: (ca.pem, server.pem, server.key)."""
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=presence test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=folder)
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=folder)
    with open(os.path.join(folder, "server.ext"), "w") as handle:
        handle.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=folder)
    return tuple(os.path.join(folder, name) for name in ("ca.pem", "server.pem", "server.key"))


@pytest.fixture
def tls_redis(tmp_path):
    """A redis-server listening on TLS only: (rediss:// URL, CA file). Skips where Redis or openssl lack TLS."""
    binary = redis_binary()
    if binary is None or subprocess.run(["which", "openssl"], capture_output=True).returncode:
        pytest.skip("needs redis-server and the openssl command")
    ca, cert, key = make_certificates(str(tmp_path))
    port = free_port()
    proc = Proc([binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--tls-cert-file", cert,
                 "--tls-key-file", key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no", "--save", "",
                 "--appendonly", "no", "--dir", str(tmp_path)], dict(os.environ), str(tmp_path / "redis-tls.log"))
    url = f"rediss://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, ssl_ca_certs=ca)

    def up():
        if not proc.alive():
            pytest.skip(f"this redis-server cannot serve TLS: {proc.log().strip()[-300:]}")
        try:
            return client.ping()
        except redis.RedisError:
            return False

    wait_for(up, timeout=10, message="the TLS redis-server")
    yield url, ca, client
    client.close()
    proc.kill()


def test_events_cross_processes_over_tls_redis_verified_by_the_ca_file(processes, clients, tls_redis):
    url, ca, client = tls_redis
    # Hour-long windows: the rate limiter's counters are still in Redis when the test looks.
    (_, web1), (_, web2) = processes.cluster(REDIS_URL=url, REDIS_TLS_CA_FILE=ca, API_RATE_LIMIT="1000 per hour",
                                             **FAST)
    for web in (web1, web2):
        assert requests.get(f"{web}/health", timeout=5).json()["redis"] == "ok"
    watcher = clients.console(web2, 2).connect()
    assert watcher.call("join_chat", {"chat_id": CHAT})["ok"] is True
    rest = Rest(web1)
    rest.set_status(1, "busy", "over TLS")
    watcher.wait("agent_presence_changed", agent_id=1, status="busy")  # web1 -> Redis (TLS) -> web2
    rest.typing(1, CHAT)
    watcher.wait("typing_stop", agent_id=1, chat_id=CHAT, timeout=20)  # the worker's sweep, emitted over TLS
    keys = [k.decode() for k in client.keys("*")]
    assert any(k.startswith("rq:") for k in keys), keys  # the worker's queue
    assert any("api:agent:default:1" in k for k in keys), keys  # the rate limiter's counter of agent 1


def test_verify_none_accepts_an_unverifiable_certificate_and_the_default_refuses_it(processes, tls_redis):
    url = tls_redis[0]
    _, relaxed = processes.web(name="relaxed", REDIS_URL=url, REDIS_TLS_VERIFY="none")
    assert requests.get(f"{relaxed}/health", timeout=5).json()["redis"] == "ok"
    _, strict = processes.web(name="strict", REDIS_URL=url)  # the system's CAs do not know the test CA
    health = requests.get(f"{strict}/health", timeout=10).json()
    assert (health["status"], health["redis"]) == ("degraded", "error")


@pytest.mark.parametrize("settings, complaint", [
    ({"REDIS_TLS_VERIFY": "optional"}, "REDIS_TLS_VERIFY must be one of required, none"),
    ({"REDIS_TLS_CA_FILE": "/no/such/ca.pem"}, "REDIS_TLS_CA_FILE is not a readable file"),
])
def test_tls_settings_are_checked_at_start(settings, complaint):
    with pytest.raises(ConfigError, match=complaint):
        create_app({"JWT_SECRET_KEY": SECRET, "APP_ENV": "testing", "REDIS_URL": "rediss://127.0.0.1:1/0", **settings})


def test_redis_options_follow_the_tls_settings_for_rediss_urls_only(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not read until a connection is made")
    app = create_app({"JWT_SECRET_KEY": SECRET, "APP_ENV": "testing", "ASYNC_MODE": "threading",
                      "REDIS_URL": "rediss://127.0.0.1:1/0", "REDIS_TLS_CA_FILE": str(ca)})
    assert app.config["REDIS_OPTIONS"] == {"ssl_cert_reqs": "required", "ssl_ca_certs": str(ca)}
    relaxed = create_app({"JWT_SECRET_KEY": SECRET, "APP_ENV": "testing", "ASYNC_MODE": "threading",
                          "REDIS_URL": "rediss://127.0.0.1:1/0", "REDIS_TLS_VERIFY": "none"})
    assert relaxed.config["REDIS_OPTIONS"] == {"ssl_cert_reqs": "none", "ssl_check_hostname": False}
    plain = create_app({"JWT_SECRET_KEY": SECRET, "APP_ENV": "testing", "ASYNC_MODE": "threading",
                        "REDIS_URL": "redis://127.0.0.1:1/0", "REDIS_TLS_VERIFY": "none"})
    assert plain.config["REDIS_OPTIONS"] == {}
