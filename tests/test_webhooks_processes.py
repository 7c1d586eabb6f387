"""Webhooks across processes: the worker delivers (RQ), embedded mode in process, a killed worker loses nothing."""
import pytest
import requests
from standardwebhooks import Webhook

from .receiver import Receiver
from .support import bearer, wait_for

pytestmark = pytest.mark.processes
HOOKS = "/api/v1/webhooks/"


@pytest.fixture
def receiver(tmp_path):
    opened = Receiver(tmp_path)
    yield opened
    opened.close()


def settings(receiver, **more):
    return {"WEBHOOK_ALLOW_PRIVATE": 1, "WEBHOOK_CA_FILE": receiver.ca_file, **more}


def register(url, receiver):
    answer = requests.post(f"{url}{HOOKS}", json={"url": receiver.url},
                           headers=bearer("backend", role="service", name=None), timeout=10)
    assert answer.status_code == 201, answer.text
    return answer.json()


def set_status(url, agent, status):
    answer = requests.post(f"{url}/api/v1/presence/set-status/", json={"status": status, "message": status},
                           headers=bearer(agent), timeout=10)
    assert answer.status_code == 200, answer.text


def unique_events(receiver):
    """{event id: event} of every event received in a message answered 2xx."""
    return {event["id"]: event for message in receiver.messages(accepted=True) for event in message["data"]["events"]}


def test_the_worker_delivers_signed_batches_to_the_receiver(production, receiver):
    _, url = production.web(**settings(receiver))
    production.worker(**settings(receiver))
    made = register(url, receiver)
    for agent in range(1, 21):
        for status in ("busy", "online", "away"):
            set_status(url, agent, status)
    wait_for(lambda: len(unique_events(receiver)) == 60, timeout=20, message="60 events at the receiver")
    for entry in receiver.received:
        Webhook(made["secret"]).verify(entry["body"], entry["headers"])
    assert len(receiver.received) < 60  # batched
    by_agent = {}
    for event in (e for m in receiver.messages() for e in m["data"]["events"]):
        by_agent.setdefault(event["data"]["agent_id"], []).append(event["data"]["status"])
    assert all(statuses == ["busy", "online", "away"] for statuses in by_agent.values())


def test_two_workers_never_have_two_deliveries_in_flight_to_one_endpoint(production, receiver):
    _, url = production.web(**settings(receiver))
    production.worker(name="worker1", **settings(receiver))
    production.worker(name="worker2", **settings(receiver))
    register(url, receiver)
    receiver.delay = 0.3  # each answer takes a while: a second delivery would overlap it
    for round_ in range(6):
        for agent in range(1, 6):
            set_status(url, agent, ("busy", "online")[round_ % 2])
        wait_for(lambda n=round_: len(unique_events(receiver)) == 5 * (n + 1), timeout=20, message="the round's events")
    assert len(receiver.received) >= 4 and receiver.most_flying == 1


def test_embedded_mode_delivers_in_process(processes, receiver):
    _, url = processes.web(**settings(receiver))
    made = register(url, receiver)
    set_status(url, 3, "busy")
    wait_for(lambda: receiver.received, timeout=10, message="a delivery from the web process")
    body = Webhook(made["secret"]).verify(receiver.received[0]["body"], receiver.received[0]["headers"])
    assert body["data"]["events"][0]["data"]["agent_id"] == 3


def test_a_worker_killed_mid_delivery_loses_no_event(production, receiver):
    """The receiver holds its answers; the worker is killed with a delivery in flight; another takes over."""
    env = settings(receiver, WEBHOOK_TIMEOUT_SECONDS=2, WEBHOOK_RETRY_SECONDS="0.5,0.5,0.5,0.5,0.5,0.5,0.5")
    _, url = production.web(**env)
    worker = production.worker(name="worker1", **env)
    register(url, receiver)
    receiver.delay = 1.5  # answers come late: the worker is killed while it waits for one
    for agent in range(1, 11):
        set_status(url, agent, "busy")
    wait_for(lambda: receiver.received, timeout=15, message="the first delivery in flight")
    worker.kill()
    in_flight = receiver.received[0]["headers"]["webhook-id"]
    for agent in range(1, 11):
        set_status(url, agent, "online")
    receiver.delay = 0
    production.worker(name="worker2", **env)
    wait_for(lambda: len(unique_events(receiver)) == 20, timeout=40, message="all 20 events after the restart")
    ids = [entry["headers"]["webhook-id"] for entry in receiver.received]
    assert ids.count(in_flight) >= 2  # the message in flight went again, with its id
    events = [e for m in receiver.messages() for e in m["data"]["events"]]
    # No event travels twice under another message id: duplicates are only re-sends of one message.
    carriers = {}
    for entry, message in zip(receiver.received, receiver.messages(), strict=True):
        for event in message["data"]["events"]:
            carriers.setdefault(event["id"], set()).add(entry["headers"]["webhook-id"])
    assert all(len(messages) == 1 for messages in carriers.values()) and len(carriers) == 20 <= len(events)
