"""REST limits count per verified identity whatever the header's spelling; by address only without one."""
import pytest

from presence_app.services import accounts

from .support import token

ME = "/api/v1/presence/me/"
LOGIN = "/api/v1/auth/token"


def spellings(raw):
    """The same token in the header spellings a client (or an attacker) may send."""
    return [f"Bearer {raw}", f"Bearer  {raw}", f"Bearer\t{raw}", f"bearer {raw}", f"BEARER {raw}", f" Bearer {raw} "]


def test_respelling_the_header_never_buys_a_fresh_budget(make_app):
    client = make_app(API_RATE_LIMIT="6 per minute").test_client()
    raw = token(5)
    statuses = [client.get(ME, headers={"Authorization": h}).status_code for h in spellings(raw)]
    assert statuses == [200] * 6
    for header in spellings(raw) + [f"Bearer {token(5, exp_in=900)}"]:  # a second token of the same agent too
        assert client.get(ME, headers={"Authorization": header}).status_code == 429


def test_one_agents_budget_is_its_own(make_app):
    client = make_app(API_RATE_LIMIT="2 per minute").test_client()
    for _ in range(2):
        assert client.get(ME, headers={"Authorization": f"Bearer {token(5)}"}).status_code == 200
    assert client.get(ME, headers={"Authorization": f"Bearer {token(5)}"}).status_code == 429
    assert client.get(ME, headers={"Authorization": f"Bearer {token(6)}"}).status_code == 200
    assert client.get(ME, headers={"Authorization": f"Bearer {token(5, org='other')}"}).status_code == 401


def test_same_id_in_two_orgs_are_two_identities(make_app):
    client = make_app(API_RATE_LIMIT="1 per minute").test_client()
    assert client.get(ME, headers={"Authorization": f"Bearer {token(5, org='a')}"}).status_code == 200
    other = {"Authorization": f"Bearer {token(6, org='a:b')}"}
    assert client.get("/api/v1/presence/", headers=other).status_code == 200


@pytest.mark.parametrize("junk", ["Bearer x", "Bearer y.z", "Basic abc", "", "Bearer a b", "Token t"])
def test_requests_that_fail_authentication_share_their_address_budget(make_app, junk):
    client = make_app(API_RATE_LIMIT="3 per minute").test_client()
    statuses = [client.get(ME, headers={"Authorization": f"{junk}{i}"}).status_code for i in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    assert client.get(ME, headers={"Authorization": f"Bearer {token(5)}"}).status_code == 200  # a real agent is not


def test_without_trusted_proxies_x_forwarded_for_is_ignored(make_app):
    client = make_app(LOGIN_RATE_LIMIT="2 per minute").test_client()
    body = {"email": "nobody@example.com", "password": "whatever-it-is"}
    for i in range(2):
        assert client.post(LOGIN, json=body, headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code == 401
    assert client.post(LOGIN, json=dict(body, email="other@example.com"),
                       headers={"X-Forwarded-For": "10.0.0.9"}).status_code == 429


def test_behind_trusted_proxies_each_client_address_has_its_login_budget(make_app):
    client = make_app(LOGIN_RATE_LIMIT="2 per minute", TRUSTED_PROXY_COUNT=1).test_client()

    def login(address, email):
        return client.post(LOGIN, json={"email": email, "password": "whatever-it-is"},
                           headers={"X-Forwarded-For": address}).status_code

    assert [login("10.0.0.1", f"a{i}@example.com") for i in range(3)] == [401, 401, 429]
    assert login("10.0.0.2", "b@example.com") == 401  # another client behind the same router
    # Only the last hop is trusted: a client prepending addresses changes nothing.
    assert login("1.2.3.4, 10.0.0.1", "c@example.com") == 429


def test_login_is_limited_per_email_whatever_the_address(make_app):
    app = make_app(LOGIN_RATE_LIMIT="2 per minute", TRUSTED_PROXY_COUNT=1)
    with app.app_context():
        accounts.create_agent("ana@example.com", "Ana", "long-enough-pass")
    client = app.test_client()

    def login(address, email, password="wrong-guess"):
        return client.post(LOGIN, json={"email": email, "password": password},
                           headers={"X-Forwarded-For": address}).status_code

    assert [login(f"10.0.1.{i}", "ana@example.com") for i in range(2)] == [401, 401]
    assert login("10.0.1.9", "ANA@example.com ") == 429  # the same email, however spelled
    assert login("10.0.1.10", "ana@example.com", "long-enough-pass") == 429  # even with the right password
    assert login("10.0.1.11", "maria@example.com") == 401
