"""The official JavaScript client (socket.io-client from npm, under Node) against real processes.

tests/js/client.mjs runs socket.io-client as the platform's front end does (`io(url, {auth:
{token}})`, polling then the websocket upgrade); this module drives it line by line and checks
what it received, envelope by envelope and field by field.
"""
import pytest

from .clients import Rest, node_missing
from .support import CHANGE_FIELDS, CHAT, FAST, ISO_Z, PRESENCE_FIELDS, envelope_of, token, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.skipif(node_missing() is not None, reason=str(node_missing()))]


def change_of(payload):
    """The data of agent_presence_changed with its timestamp checked and set aside."""
    data = dict(envelope_of(payload, "agent_presence_changed"))
    assert set(data) == CHANGE_FIELDS
    assert ISO_Z.fullmatch(data.pop("timestamp"))
    return data


def test_official_js_client_connects_gets_presence_state_changes_chat_rooms_and_typing(processes, clients):
    _, url = processes.web(**FAST)
    api = Rest(url)
    api.ok("POST", "/presence/set-status/", 1, {"status": "busy", "message": "In a meeting until 3 pm"},
           name="João Silva")
    node = clients.node(url)

    connected = node.connect({"token": token(5, name="Maria")})
    assert connected["type"] == "connected" and connected["sid"]
    wait_for(lambda: any(m == {"type": "upgrade", "transport": "websocket"} for m in node.lines),
             message="the client upgrading to websocket")

    # presence_state: sent at once, my org's roster in presence objects.
    state = envelope_of(node.wait("presence_state")[0], "presence_state")
    assert set(state) == {"agents", "server_time", "cursor"} and ISO_Z.fullmatch(state["server_time"])
    assert [agent["agent_id"] for agent in state["agents"]] == [1, 5]
    joao, maria = state["agents"]
    assert set(joao) == PRESENCE_FIELDS and set(maria) == PRESENCE_FIELDS
    assert ISO_Z.fullmatch(joao.pop("status_changed_at")) and ISO_Z.fullmatch(maria.pop("status_changed_at"))
    assert joao == {"agent_id": 1, "name": "João Silva", "status": "busy", "status_message": "In a meeting until 3 pm",
                    "last_heartbeat": None, "websocket_connected": False, "connections": 0, "is_available": False,
                    "minutes_in_status": 0, "is_inactive": False, "seq": 1, "reason_code": None, "status_until": None,
                    "teams": [], "open_chats": 0, "capacity": 3, "last_assigned_at": None,
                    "available_for_assignment": False}
    assert maria == {"agent_id": 5, "name": "Maria", "status": "offline", "status_message": "",
                     "last_heartbeat": None, "websocket_connected": True, "connections": 1, "is_available": False,
                     "minutes_in_status": 0, "is_inactive": False, "seq": 1, "reason_code": None,
                     "status_until": None, "teams": [], "open_chats": 0, "capacity": 3, "last_assigned_at": None,
                     "available_for_assignment": False}

    # Status changes made over REST reach the JavaScript client.
    api.ok("POST", "/presence/set-status/", 1, {"status": "online"}, name="João Silva")
    assert change_of(node.wait("agent_presence_changed", agent_id=1, seq=2)[0]) == {
        "agent_id": 1, "status": "online", "message": "", "name": "João Silva", "previous_status": "busy",
        "websocket_connected": False, "is_available": False, "reason": "manual", "seq": 2, "reason_code": None,
        "teams": []}
    api.ok("POST", "/presence/set-status/", 5, {"status": "online", "message": "Ready"}, name="Maria")
    assert change_of(node.wait("agent_presence_changed", agent_id=5, seq=2)[0]) == {
        "agent_id": 5, "status": "online", "message": "Ready", "name": "Maria", "previous_status": "offline",
        "websocket_connected": True, "is_available": True, "reason": "manual", "seq": 2, "reason_code": None,
        "teams": []}

    # Client events and their acks, as the JavaScript client sees them.
    assert node.call("join_chat", {"chat_id": CHAT}) == {"ok": True, "chat_id": CHAT, "typing": []}
    beat = node.call("heartbeat", {})
    assert set(beat) == {"ok", "server_time", "presence"} and beat["ok"] is True
    assert ISO_Z.fullmatch(beat["server_time"])
    assert beat["presence"]["agent_id"] == 5 and ISO_Z.fullmatch(beat["presence"]["last_heartbeat"])
    assert node.call("set_status", {"status": "busy", "message": "Lunch"})["presence"]["status"] == "busy"
    assert change_of(node.wait("agent_presence_changed", agent_id=5, seq=3)[0])["message"] == "Lunch"
    refused = node.call("set_status", {"status": "BUSY"})
    assert set(refused) == {"ok", "error", "message", "details"}
    assert (refused["ok"], refused["error"]) == (False, "validation_error") and "status" in refused["details"]

    # Typing in the chat's room: another agent over REST, then this client itself.
    api.ok("POST", "/typing/", 6, {"chat_id": CHAT}, name="Ana")
    start = envelope_of(node.wait("typing_start", agent_id=6)[0], "typing_start")
    assert ISO_Z.fullmatch(start.pop("timestamp"))
    assert start == {"chat_id": CHAT, "from": "Ana", "agent_id": 6}
    assert api.ok("POST", "/typing/", 6, {"chat_id": CHAT}, name="Ana")["started"] is False
    api.ok("DELETE", f"/typing/?chat_id={CHAT}", 6, name="Ana")
    stop = envelope_of(node.wait("typing_stop", agent_id=6)[0], "typing_stop")
    assert ISO_Z.fullmatch(stop.pop("timestamp"))
    assert stop == {"chat_id": CHAT, "from": "Ana", "agent_id": 6}
    assert node.call("typing_start", {"chat_id": CHAT}) == {"ok": True, "chat_id": CHAT, "typing": True,
                                                            "started": True}
    assert envelope_of(node.wait("typing_start", agent_id=5)[0], "typing_start")["from"] == "Maria"
    assert node.call("typing_stop", {"chat_id": CHAT}) == {"ok": True, "chat_id": CHAT, "typing": False,
                                                           "stopped": True}
    node.wait("typing_stop", agent_id=5)

    # After leave_chat the room is silent for this client; a later presence change proves delivery.
    assert node.call("leave_chat", {"chat_id": CHAT}) == {"ok": True, "chat_id": CHAT}
    api.ok("POST", "/typing/", 6, {"chat_id": CHAT}, name="Ana")
    api.ok("POST", "/presence/set-status/", 1, {"status": "away"}, name="João Silva")
    node.wait("agent_presence_changed", agent_id=1, status="away")
    assert [(e, d["agent_id"]) for e, d in node.timeline("typing_start", "typing_stop")] == [
        ("typing_start", 6), ("typing_stop", 6), ("typing_start", 5), ("typing_stop", 5)]

    # Closing the JavaScript client is announced to the org after the grace.
    observer = clients.console(url, 7).connect()
    node.close()
    gone = change_of(observer.wait("agent_presence_changed", agent_id=5, reason="disconnected")[0])
    assert (gone["websocket_connected"], gone["is_available"], gone["status"]) == (False, False, "busy")


def test_official_js_client_is_refused_with_the_servers_reason(processes, clients):
    _, url = processes.web(**FAST)
    api = Rest(url)
    node = clients.node(url)
    cases = [
        ({}, {}, "missing token"),
        ({"token": token(5)}, {"query": {"token": token(5)}}, "tokens in the query string are refused"),
        ({"token": token(5, secret="another-secret-" + "x" * 32)}, {}, "invalid token"),
        ({"token": token(5, exp_in=-60)}, {}, "token has expired"),
    ]
    for auth, options, reason in cases:
        refused = node.connect(auth, **options)
        assert refused["type"] == "connect_error", (reason, refused)
        assert refused["message"].startswith(reason)
        assert refused["data"] == {"error": "unauthorized", "message": refused["message"], "details": {}}
    assert api.ok("GET", "/presence/me/", 5)["connections"] == 0
    assert node.connect({"token": token(5)})["type"] == "connected"


def test_node_and_python_clients_on_different_web_processes_see_every_change_once_in_seq_order(
        production, clients, database):
    """The Procfile topology: two web processes and a worker sharing Redis, a client on each web."""
    timing = dict(FAST, PRESENCE_TIMEOUT_SECONDS=2, PRESENCE_SWEEP_SECONDS=1)
    (_, web1), (_, web2) = production.cluster(**timing)
    api1, api2 = Rest(web1), Rest(web2)
    node = clients.node(web1)
    assert node.connect({"token": token(60, name="Node")})["type"] == "connected"
    python = clients.console(web2, 61, name="Python").connect()
    node.wait("agent_presence_changed", agent_id=61, reason="connected")
    before = set(ledger(database))

    # Every entrance, through either process and the worker.
    api1.ok("POST", "/presence/set-status/", 62, {"status": "online"})
    api2.ok("POST", "/presence/set-status/", 62, {"status": "busy", "message": "lunch"})
    assert python.call("set_status", {"status": "online", "message": ""})["ok"] is True
    assert node.call("set_status", {"status": "away", "message": "brb"})["ok"] is True
    api2.ok("POST", "/presence/62/set-status/", 64, {"status": "away", "message": "on a call"}, role="supervisor")
    for client in (node, python):
        client.wait("agent_presence_changed", agent_id=62, reason="timeout")
    api1.ok("POST", "/presence/heartbeat/", 62)
    visitor = clients.console(web2, 63).connect()
    for client in (node, python):
        client.wait("agent_presence_changed", agent_id=63, reason="connected")
    visitor.close()
    for client in (node, python):
        client.wait("agent_presence_changed", agent_id=63, reason="disconnected")
    api2.ok("POST", "/presence/set-status/", 62, {"status": "offline"})  # so nothing times out from here
    assert node.call("set_status", {"status": "online", "message": "sentinel"})["ok"] is True
    for client in (node, python):
        client.wait("agent_presence_changed", agent_id=60, message="sentinel")

    expected = [row for row in ledger(database) if row not in before]
    reasons = {row[2] for row in expected}
    assert reasons == {"manual", "supervisor", "timeout", "resumed", "connected", "disconnected"}
    for client in (node, python):
        seen = [(c["agent_id"], c["seq"], c["reason"], c["status"], c["message"], c["websocket_connected"])
                for c in client.changes() if (c["agent_id"], c["seq"]) not in {(r[0], r[1]) for r in before}]
        assert len(seen) == len(set(seen)), f"{client} saw a change twice"
        for agent in {row[0] for row in expected}:
            assert [s for s in seen if s[0] == agent] == [r for r in expected if r[0] == agent], (client, agent)
        assert sorted(seen) == sorted(expected)


def ledger(database):
    """Every recorded change of the default org, as (agent, seq, reason, status, message, connected)."""
    return [tuple(row) for row in database.rows(
        "SELECT agent_id, seq, reason, to_status, message, websocket_connected FROM presence_changes "
        "WHERE org = 'default' ORDER BY agent_id, seq")]
