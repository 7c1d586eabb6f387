"""Tenancy is absolute: orgs `a` and `a:b`, chat ids holding `:`, never share a room or an event.

Before room names were built by an injective encoding, `chat:{org}:{chat_id}` made org `a`'s
chat `b:c` and org `a:b`'s chat `c` one room. Each case below pairs two such tenants and checks
both directions, in-process and through a real web process with Python and Node clients.
"""
import pytest

from .clients import Rest, node_missing
from .inprocess import data_of, drain
from .support import FAST, bearer, token, wait_for

# (org, chat id) pairs whose naive room names `chat:{org}:{chat_id}` coincide.
COLLIDING = [
    (("a", "b:c"), ("a:b", "c")),
    (("acme", "corp:12345"), ("acme:corp", "12345")),
    (("a", "b:c:d"), ("a:b:c", "d")),
]


@pytest.mark.parametrize("first, second", COLLIDING)
def test_typing_never_crosses_orgs_in_process(client, connect, first, second):
    (org_1, chat_1), (org_2, chat_2) = first, second
    one, two = connect(1, org=org_1), connect(2, org=org_2)
    assert one.emit("join_chat", {"chat_id": chat_1}, callback=True)["ok"]
    assert two.emit("join_chat", {"chat_id": chat_2}, callback=True)["ok"]
    drain(one), drain(two)

    assert two.emit("typing_start", {"chat_id": chat_2}, callback=True)["ok"]
    client.post("/api/v1/typing/", json={"chat_id": chat_2}, headers=bearer(3, name="Spy", org=org_2))
    assert data_of(drain(one), "typing_start") == []
    assert sorted(d["agent_id"] for d in data_of(drain(two), "typing_start")) == [2, 3]

    assert one.emit("typing_start", {"chat_id": chat_1}, callback=True)["ok"]
    assert data_of(drain(two), "typing_start") == []
    assert [d["agent_id"] for d in data_of(drain(one), "typing_start")] == [1]


def test_presence_of_org_a_is_never_seen_from_org_a_colon_b(client, connect):
    one, two = connect(1, org="a"), connect(2, org="a:b")
    drain(one), drain(two)
    client.post("/api/v1/presence/set-status/", json={"status": "busy"}, headers=bearer(3, org="a"))
    client.post("/api/v1/presence/set-status/", json={"status": "away"}, headers=bearer(4, org="a:b"))
    assert [d["agent_id"] for d in data_of(drain(one), "agent_presence_changed")] == [3]
    assert [d["agent_id"] for d in data_of(drain(two), "agent_presence_changed")] == [4]
    roster = client.get("/api/v1/presence/", headers=bearer(5, org="a")).json
    assert sorted(a["agent_id"] for a in roster["agents"]) == [1, 3, 5]
    assert client.get("/api/v1/presence/4/", headers=bearer(5, org="a")).status_code == 404


@pytest.mark.processes
@pytest.mark.parametrize("first, second", COLLIDING[:2])
def test_typing_never_crosses_orgs_between_real_clients(processes, clients, first, second):
    (org_1, chat_1), (org_2, chat_2) = first, second
    _, url = processes.web(**FAST)
    api = Rest(url)
    one = clients.console(url, 1, org=org_1).connect()
    two = clients.console(url, 2, org=org_2).connect()
    assert one.call("join_chat", {"chat_id": chat_1})["ok"] and two.call("join_chat", {"chat_id": chat_2})["ok"]

    api.ok("POST", "/typing/", 3, {"chat_id": chat_2}, org=org_2, name="Spy")
    two.wait("typing_start", agent_id=3)
    api.ok("POST", "/typing/", 4, {"chat_id": chat_1}, org=org_1, name="Colleague")
    one.wait("typing_start", agent_id=4)  # each saw its own org's event: anything crossing came earlier
    assert [p["data"]["agent_id"] for p in one.received("typing_start")] == [4]
    assert [p["data"]["agent_id"] for p in two.received("typing_start")] == [3]


@pytest.mark.processes
@pytest.mark.skipif(node_missing() is not None, reason=str(node_missing()))
def test_typing_never_crosses_orgs_for_the_official_js_client(processes, clients):
    _, url = processes.web(**FAST)
    api = Rest(url)
    node = clients.node(url)
    assert node.connect({"token": token(1, org="a")})["type"] == "connected"
    assert node.call("join_chat", {"chat_id": "b:c"}) == {"ok": True, "chat_id": "b:c", "typing": []}
    python = clients.console(url, 2, org="a:b").connect()
    assert python.call("join_chat", {"chat_id": "c"})["ok"]

    assert python.call("typing_start", {"chat_id": "c"})["ok"]
    api.ok("POST", "/typing/", 3, {"chat_id": "b:c"}, org="a", name="Colleague")
    wait_for(lambda: node.received("typing_start", agent_id=3), message="org a's own typing at the node client")
    assert [p["data"]["agent_id"] for p in node.received("typing_start")] == [3]
    assert node.call("typing_start", {"chat_id": "b:c"})["ok"]
    api.ok("POST", "/typing/", 4, {"chat_id": "c"}, org="a:b", name="Other")
    python.wait("typing_start", agent_id=4)
    assert sorted(p["data"]["agent_id"] for p in python.received("typing_start")) == [2, 4]
