"""Webhooks in process: the endpoint API, the outbox, signed batches to a real HTTPS receiver, retries, SSRF."""
import os
from collections import defaultdict
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from standardwebhooks import Webhook, WebhookVerificationError

from presence_app import metrics
from presence_app.config import ConfigError, from_env
from presence_app.extensions import db
from presence_app.services import delivery
from presence_app.webhook_models import WebhookAttempt, WebhookEndpoint, WebhookEvent, WebhookMessage

from .inprocess import run_job, set_status
from .receiver import Receiver
from .support import ROOT, assert_error, bearer, wait_for

HOOKS = "/api/v1/webhooks/"
PUBLIC = "https://1.1.1.1"  # a public address: registered without a DNS look-up (the tests have no DNS)
FAST_RETRIES = "0.3,0.3,0.3,0.3,0.3,0.3,0.3"


def service(org=None):
    return bearer("platform-backend", org=org, role="service", name=None)


@pytest.fixture
def receiver(tmp_path):
    opened = Receiver(tmp_path)
    yield opened
    opened.close()


@pytest.fixture
def hooks_app(make_app, receiver):
    """An app that may reach the local receiver (private addresses allowed, the receiver's CA trusted)."""
    return make_app(WEBHOOK_ALLOW_PRIVATE=1, WEBHOOK_CA_FILE=receiver.ca_file, WEBHOOK_RETRY_SECONDS=FAST_RETRIES,
                    WEBHOOK_TIMEOUT_SECONDS=3)


def register(client, url, **body):
    answer = client.post(HOOKS, json={"url": url, **body}, headers=service())
    assert answer.status_code == 201, answer.json
    return answer.json


def deliver(app, until, timeout=10):
    """Run the delivery job (as the worker does) until `until()` holds and its deliveries are recorded."""
    wait_for(lambda: run_job(app, lambda: delivery.run(seconds=0.3)) is not None and until(),
             timeout=timeout, interval=0.05, message="webhook deliveries")
    wait_for(lambda: not app.extensions.get("presence_webhooks_in_flight"), timeout=timeout, message="recorded")


def verified(receiver, secret, index=-1):
    """The body of a received message, verified by the Standard Webhooks library with `secret`."""
    entry = receiver.received[index]
    return Webhook(secret).verify(entry["body"], entry["headers"])


def test_register_answers_the_endpoint_and_its_secret_once_and_lists_without_it(client):
    made = register(client, f"{PUBLIC}/presence", events=["agent.assigned"], description="CRM")
    assert set(made) == {"id", "url", "events", "description", "enabled", "secret", "created_at"}
    assert made["secret"].startswith("whsec_") and len(Webhook(made["secret"])._whsecret) >= 24
    assert (made["events"], made["description"], made["enabled"]) == (["agent.assigned"], "CRM", True)
    listed = client.get(HOOKS, headers=service()).json
    assert listed == {"endpoints": [{k: v for k, v in made.items() if k != "secret"}]}
    everything = register(client, f"{PUBLIC}/all")
    assert everything["events"] == ["agent.presence.changed", "agent.status.overrun", "agent.assigned",
                                     "agent.released"]


def test_agents_may_not_manage_webhooks_and_supervisors_may_and_other_orgs_see_nothing(client):
    assert_error(client.get(HOOKS, headers=bearer(5)), 403, "forbidden")
    assert_error(client.post(HOOKS, json={"url": "bad"}, headers=bearer(5)), 403, "forbidden")
    made = client.post(HOOKS, json={"url": f"{PUBLIC}/"}, headers=bearer(6, role="supervisor"))
    assert made.status_code == 201
    assert client.get(HOOKS, headers=service(org="other")).json == {"endpoints": []}
    assert_error(client.delete(f"{HOOKS}{made.json['id']}/", headers=service(org="other")), 404, "not_found")
    assert client.delete(f"{HOOKS}{made.json['id']}/", headers=service()).json == {"id": made.json["id"],
                                                                                    "deleted": True}
    assert client.get(HOOKS, headers=service()).json == {"endpoints": []}


@pytest.mark.parametrize("url", [
    "http://hooks.example.com/", "https://user:pw@hooks.example.com/", "https://127.0.0.1/", "https://[::1]/",
    "https://[::ffff:127.0.0.1]/", "https://10.0.0.8/", "https://192.168.1.1/", "https://169.254.169.254/latest",
    "https://[fe80::1]/", "https://224.0.0.1/", "https://[ff02::1]/", "https://localhost:8443/", "https://0.0.0.0/",
    "https://[64:ff9b::a00:1]/", "ftp://hooks.example.com/", "hooks.example.com",
])
def test_registration_refuses_urls_that_are_not_https_or_reach_private_addresses(client, url):
    answer = client.post(HOOKS, json={"url": url}, headers=service())
    assert_error(answer, 400, "validation_error")
    assert "url" in answer.json["details"]


@pytest.mark.parametrize("body", [{}, {"url": 5}, {"url": PUBLIC, "events": ["nope"]},
                                  {"url": PUBLIC, "events": []},
                                  {"url": PUBLIC, "extra": 1},
                                  {"url": PUBLIC, "description": "x" * 201}])
def test_bad_bodies_are_refused_in_the_envelope(client, body):
    assert_error(client.post(HOOKS, json=body, headers=service()), 400, "validation_error")


def test_production_refuses_to_start_with_private_webhooks():
    env = {"APP_ENV": "production", "JWT_SECRET_KEY": "k" * 40, "WEBHOOK_ALLOW_PRIVATE": "1"}
    with pytest.raises(ConfigError, match="WEBHOOK_ALLOW_PRIVATE"):
        from_env(env, "/tmp")
    assert from_env(dict(env, WEBHOOK_ALLOW_PRIVATE="0"), "/tmp")["WEBHOOK_ALLOW_PRIVATE"] is False


def test_outbox_rows_are_written_with_the_change_and_only_for_orgs_with_endpoints(app, client):
    set_status(client, 1, "busy")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 0
    register(client, f"{PUBLIC}/", events=["agent.presence.changed"])
    set_status(client, 1, "online")
    set_status(client, 2, "away", org="other")
    with app.app_context():
        rows = db.session.execute(select(WebhookEvent.type, WebhookEvent.data)).all()
    assert [row.type for row in rows] == ["agent.presence.changed"]
    assert '"status": "online"' in rows[0].data and '"org": "default"' in rows[0].data


def test_a_change_reaches_the_receiver_signed_as_standard_webhooks_verify(hooks_app, receiver):
    client = hooks_app.test_client()
    made = register(client, receiver.url)
    set_status(client, 1, "busy", "On a call")
    deliver(hooks_app, lambda: receiver.received)
    body = verified(receiver, made["secret"])
    entry = receiver.received[0]
    assert entry["path"] == "/hooks?x=1" and entry["headers"]["host"] == f"localhost:{receiver.port}"
    assert entry["headers"]["webhook-id"].startswith("msg_")
    assert set(body) == {"type", "timestamp", "data"} and body["type"] == "presence.events"
    [event] = body["data"]["events"]
    assert set(event) == {"id", "type", "timestamp", "data"} and event["type"] == "agent.presence.changed"
    assert event["data"]["org"] == "default" and event["data"]["status"] == "busy"
    assert event["data"]["message"] == "On a call" and event["data"]["agent_id"] == 1
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 43 + "=").verify(entry["body"], entry["headers"])
    log = client.get(f"{HOOKS}{made['id']}/deliveries/", headers=service()).json
    assert log["next_cursor"] is None
    [row] = log["deliveries"]
    assert (row["message_id"], row["events"], row["attempt"], row["status_code"], row["error"]) == (
        entry["headers"]["webhook-id"], 1, 1, 200, None)


def test_events_are_batched_up_to_100_a_message_in_seq_order_per_agent(hooks_app, receiver):
    client = hooks_app.test_client()
    register(client, receiver.url, events=["agent.presence.changed"])
    for round_ in range(50):
        for agent in range(1, 6):
            set_status(client, agent, ("busy", "online")[round_ % 2], f"round {round_}")
    total = 5 * 50
    deliver(hooks_app, lambda: len(receiver.events()) >= total)
    messages = receiver.messages()
    assert all(1 <= len(m["data"]["events"]) <= 100 for m in messages)
    assert len(messages) <= 4  # 250 events: full messages, and what was left
    seqs = defaultdict(list)
    for event in receiver.events():
        seqs[event["data"]["agent_id"]].append(event["data"]["seq"])
    assert all(found == sorted(found) and len(found) == len(set(found)) for found in seqs.values())
    assert len({event["id"] for event in receiver.events()}) == total


def test_a_failed_delivery_is_retried_with_the_same_webhook_id(hooks_app, receiver):
    client = hooks_app.test_client()
    made = register(client, receiver.url)
    receiver.script = [500, 503]
    counted = {outcome: metrics.WEBHOOKS.labels(outcome)._value.get() for outcome in ("delivered", "failed")}
    set_status(client, 1, "busy")
    deliver(hooks_app, lambda: len(receiver.received) >= 3)
    wait_for(lambda: {outcome: metrics.WEBHOOKS.labels(outcome)._value.get() - before
                      for outcome, before in counted.items()} == {"delivered": 1, "failed": 2}, timeout=5)
    ids = {entry["headers"]["webhook-id"] for entry in receiver.received}
    assert len(ids) == 1 and [entry["status"] for entry in receiver.received] == [500, 503, 200]
    assert verified(receiver, made["secret"])["data"]["events"][0]["data"]["status"] == "busy"
    log = client.get(f"{HOOKS}{made['id']}/deliveries/?limit=2", headers=service()).json
    assert [(r["attempt"], r["status_code"]) for r in log["deliveries"]] == [(3, 200), (2, 503)]
    rest = client.get(f"{HOOKS}{made['id']}/deliveries/?cursor={log['next_cursor']}", headers=service()).json
    [first] = rest["deliveries"]
    assert (first["attempt"], first["status_code"], first["error"]) == (1, 500, "HTTP 500")
    assert first["next_attempt_at"] is not None and rest["next_cursor"] is None


def test_410_disables_the_endpoint_and_later_changes_are_not_queued(hooks_app, receiver):
    client = hooks_app.test_client()
    made = register(client, receiver.url)
    receiver.status = 410
    set_status(client, 1, "busy")
    deliver(hooks_app, lambda: client.get(HOOKS, headers=service()).json["endpoints"][0]["enabled"] is False)
    set_status(client, 1, "online")
    with hooks_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == 0
    run_job(hooks_app, lambda: delivery.run(seconds=0.5))
    assert len(receiver.received) == 1
    assert client.get(f"{HOOKS}{made['id']}/deliveries/", headers=service()).json["deliveries"][0]["status_code"] == 410


def test_five_days_without_a_success_disable_the_endpoint(hooks_app, receiver):
    client = hooks_app.test_client()
    made = register(client, receiver.url)
    receiver.status = 500
    with hooks_app.app_context():
        db.session.execute(update(WebhookEndpoint).values(failing_since=datetime.utcnow() - timedelta(days=5, hours=1)))
        db.session.commit()
    set_status(client, 1, "busy")
    deliver(hooks_app, lambda: client.get(HOOKS, headers=service()).json["endpoints"][0]["enabled"] is False)
    assert len(receiver.received) == 1 and made["id"]


def test_redelivery_sends_the_message_again_with_the_same_id(hooks_app, receiver):
    client = hooks_app.test_client()
    made = register(client, receiver.url)
    set_status(client, 1, "busy")
    deliver(hooks_app, lambda: receiver.received)
    message = receiver.received[0]["headers"]["webhook-id"]
    again = client.post(f"{HOOKS}{made['id']}/deliveries/{message}/redeliver/", headers=service())
    assert again.status_code == 200 and again.json["message_id"] == message
    deliver(hooks_app, lambda: len(receiver.received) == 2)
    assert receiver.received[1]["headers"]["webhook-id"] == message
    assert receiver.received[1]["body"] == receiver.received[0]["body"]
    assert_error(client.post(f"{HOOKS}{made['id']}/deliveries/msg_nope/redeliver/", headers=service()), 404,
                 "not_found")


def test_after_a_rotation_deliveries_carry_two_signatures_each_verifying(hooks_app, receiver):
    client = hooks_app.test_client()
    made = register(client, receiver.url)
    rotated = client.post(f"{HOOKS}{made['id']}/rotate-secret/", headers=service())
    assert rotated.status_code == 200 and rotated.json["secret"] != made["secret"]
    assert rotated.json["secret"].startswith("whsec_") and rotated.json["previous_secret_expires_at"]
    set_status(client, 1, "busy")
    deliver(hooks_app, lambda: receiver.received)
    assert len(receiver.received[0]["headers"]["webhook-signature"].split(" ")) == 2
    assert verified(receiver, made["secret"]) == verified(receiver, rotated.json["secret"])
    with hooks_app.app_context():  # a day later, the old secret no longer signs
        db.session.execute(update(WebhookEndpoint).values(previous_until=datetime.utcnow() - timedelta(seconds=1)))
        db.session.commit()
    set_status(client, 1, "online")
    deliver(hooks_app, lambda: len(receiver.received) == 2)
    assert len(receiver.received[1]["headers"]["webhook-signature"].split(" ")) == 1
    verified(receiver, rotated.json["secret"])
    with pytest.raises(WebhookVerificationError):
        verified(receiver, made["secret"])


def test_each_delivery_checks_the_address_again(hooks_app, make_app, receiver):
    client = hooks_app.test_client()
    made = register(client, receiver.url)  # allowed here: private addresses are
    strict = make_app(WEBHOOK_CA_FILE=receiver.ca_file, WEBHOOK_RETRY_SECONDS=FAST_RETRIES)
    set_status(client, 1, "busy")
    deliveries = f"{HOOKS}{made['id']}/deliveries/"
    deliver(strict, lambda: client.get(deliveries, headers=service()).json["deliveries"])
    row = client.get(deliveries, headers=service()).json["deliveries"][0]
    assert row["status_code"] is None and row["error"].startswith("refused: localhost resolves to a loopback")
    assert receiver.received == []


def test_assign_and_release_are_webhook_events(hooks_app, receiver):
    client = hooks_app.test_client()
    register(client, receiver.url, events=["agent.assigned", "agent.released"])
    socket = hooks_app.extensions  # noqa: F841 - an agent must be connected to be a candidate: named below
    with hooks_app.app_context():
        from presence_app.models import Presence
        set_status(client, 1, "online")
        db.session.execute(update(Presence).where(Presence.agent_id == 1).values(websocket_connected=True,
                                                                                  connections=1))
        db.session.commit()
    assert client.post("/api/v1/routing/assign/", json={"chat_id": "c1"}, headers=service()).status_code == 200
    assert client.post("/api/v1/routing/release/", json={"chat_id": "c1"}, headers=service()).status_code == 200
    deliver(hooks_app, lambda: len(receiver.events()) >= 2)
    assigned, released = receiver.events()
    assert (assigned["type"], assigned["data"]["chat_id"], assigned["data"]["agent_id"]) == ("agent.assigned", "c1", 1)
    assert (released["type"], released["data"]["open_chats"]) == ("agent.released", 0)


def test_the_python_receiver_of_the_docs_verifies_a_real_delivery(hooks_app, receiver):
    client = hooks_app.test_client()
    made = register(client, receiver.url)
    set_status(client, 1, "busy")
    deliver(hooks_app, lambda: receiver.received)
    with open(os.path.join(ROOT, "docs", "webhooks.md"), encoding="utf-8") as handle:
        source = handle.read().split("```python\n")[1].split("```")[0]
    scope = {"__name__": __name__}  # Flask(__name__) finds its root path by a module that exists
    exec(source.replace('"whsec_…"', repr(made["secret"])), scope)  # noqa: S102 - the docs' own example
    docs_client, entry = scope["app"].test_client(), receiver.received[0]
    assert docs_client.post("/hooks/presence", data=entry["body"], headers=entry["headers"]).status_code == 204
    tampered = entry["body"].replace(b'"busy"', b'"away"')
    assert docs_client.post("/hooks/presence", data=tampered, headers=entry["headers"]).status_code == 401


def test_the_delivery_log_is_kept_30_days(hooks_app, receiver):
    client = hooks_app.test_client()
    made = register(client, receiver.url)
    for number, status in enumerate(("busy", "online"), 1):
        set_status(client, 1, status)
        deliver(hooks_app, lambda n=number: len(receiver.received) == n)
    log = f"{HOOKS}{made['id']}/deliveries/"
    first = client.get(log, headers=service()).json["deliveries"][-1]
    with hooks_app.app_context():
        db.session.execute(update(WebhookAttempt).where(WebhookAttempt.message_id == first["message_id"])
                           .values(at=datetime.utcnow() - timedelta(days=31)))
        db.session.execute(update(WebhookMessage).where(WebhookMessage.message_id == first["message_id"])
                           .values(created_at=datetime.utcnow() - timedelta(days=31)))
        db.session.commit()
    assert run_job(hooks_app, delivery.prune) == 2
    assert [row["message_id"] for row in client.get(log, headers=service()).json["deliveries"]] == [
        receiver.received[1]["headers"]["webhook-id"]]
