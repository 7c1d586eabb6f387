"""JWT_AUDIENCE and JWT_ISSUER: when set, every token must carry them, REST and Socket.IO alike."""
import pytest

from presence_app.extensions import socketio

from .support import token

ME = "/api/v1/presence/me/"
POLICY = {"JWT_AUDIENCE": "presence-api", "JWT_ISSUER": "https://login.example"}


@pytest.fixture
def strict(make_app):
    return make_app(**POLICY)


@pytest.mark.parametrize("claims, status", [
    ({"aud": "presence-api", "iss": "https://login.example"}, 200),
    ({"aud": ["other", "presence-api"], "iss": "https://login.example"}, 200),
    ({"iss": "https://login.example"}, 401),
    ({"aud": "presence-api"}, 401),
    ({"aud": "another-api", "iss": "https://login.example"}, 401),
    ({"aud": "presence-api", "iss": "https://evil.example"}, 401),
])
def test_rest_checks_audience_and_issuer(strict, claims, status):
    r = strict.test_client().get(ME, headers={"Authorization": f"Bearer {token(5, **claims)}"})
    assert r.status_code == status, r.json
    if status == 401:
        assert r.json["error"] == "unauthorized"


def test_sockets_check_audience_and_issuer(strict):
    http = strict.test_client()
    refused = socketio.test_client(strict, auth={"token": token(5, aud="presence-api")}, flask_test_client=http)
    assert not refused.is_connected()
    accepted = socketio.test_client(strict, auth={"token": token(5, aud="presence-api", iss="https://login.example")},
                                    flask_test_client=http)
    assert accepted.is_connected()
    accepted.disconnect()


def test_without_a_policy_aud_and_iss_are_not_required(client):
    assert client.get(ME, headers={"Authorization": f"Bearer {token(5, aud='anything')}"}).status_code == 200


def test_the_standalone_logins_tokens_carry_the_policy(strict):
    with strict.app_context():
        from presence_app.services import accounts
        accounts.create_agent("ana@example.com", "Ana", "long-enough-pass")
    client = strict.test_client()
    login = client.post("/api/v1/auth/token", json={"email": "ana@example.com", "password": "long-enough-pass"}).json
    assert client.get(ME, headers={"Authorization": f"Bearer {login['access_token']}"}).status_code == 200
