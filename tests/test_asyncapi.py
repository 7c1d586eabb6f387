"""The AsyncAPI document: valid AsyncAPI 3.0, naming every event, true of the events and acks of a real session."""
import json
import os
import time

import jsonschema
import pytest

from presence_app import jobs, notify, sockets
from presence_app.extensions import socketio

from .inprocess import backdate, run_job
from .support import CHAT, ROOT, bearer, token, wait_for

DOCUMENT = "/api/v1/asyncapi.json"
SPECS = os.path.join(ROOT, "tests", "js", "node_modules", "@asyncapi", "specs", "schemas", "3.0.0-without-$id.json")
LUNCH = {"code": "lunch", "label": "Lunch", "statuses": ["away"], "max_minutes": 1}
SUP, AGENT, DIFF, SHORT = 50, 5, 6, 8


def messages(document):
    """(server events, client events, acks, the error ack): name -> payload schema, from the operations."""
    channel = document["channels"]["default"]["messages"]

    def message(ref):
        return channel[ref["$ref"].rsplit("/", 1)[1]]

    server, calls, acks, error = {}, {}, {}, None
    for operation in document["operations"].values():
        (sent,) = (message(ref) for ref in operation["messages"])
        if operation["action"] == "send":
            server[sent["name"]] = sent["payload"]
            continue
        own, refused = (message(ref) for ref in operation["reply"]["messages"])
        calls[sent["name"]], acks[sent["name"]], error = sent["payload"], own["payload"], refused["payload"]
    return server, calls, acks, error


def validator(document, schema):
    """A JSON Schema validator of `schema`, its refs resolved in the document (AsyncAPI's dialect: draft 7)."""
    return jsonschema.Draft7Validator(dict(schema, components=document["components"]))


def conforms(document, schema, instance):
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator(document, schema).iter_errors(instance)]
    assert errors == [], (instance, errors)


def test_document_is_valid_asyncapi_3_by_the_official_json_schema(client):
    if not os.path.exists(SPECS):
        pytest.skip("tests/js/node_modules/@asyncapi/specs is missing: run `npm ci` in tests/js (./dev.py test does)")
    answer = client.get(DOCUMENT)
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    document = answer.get_json()
    assert document["asyncapi"] == "3.0.0"
    with open(SPECS) as handle:
        official = jsonschema.Draft7Validator(json.load(handle))
    assert [e.message for e in official.iter_errors(document)] == []
    broken = dict(document, operations=dict(document["operations"], shout={"action": "shout"}))
    assert list(official.iter_errors(broken))  # the official schema does look at what we give it


def test_every_reference_in_the_document_resolves(client):
    document = client.get(DOCUMENT).get_json()
    refs = []

    def walk(node):
        if isinstance(node, dict):
            refs.extend([node["$ref"]] if "$ref" in node else [])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert len(refs) > 50
    for ref in refs:
        node = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]  # a KeyError names the dangling ref


def test_document_names_every_event_the_server_emits_and_every_handler_it_has(app, client):
    document = client.get(DOCUMENT).get_json()
    server, calls, acks, error = messages(document)
    emitted = {notify.PRESENCE_STATE, notify.PRESENCE_CHANGED, notify.PRESENCE_DIFF, notify.TYPING_START,
               notify.TYPING_STOP, notify.SESSION_EXPIRED, notify.STATUS_OVERRUN, notify.PRESENCE_COUNTS}
    assert set(server) == emitted
    handled = {name for name, *_ in socketio.handlers} - {"connect", "disconnect", "*"}
    assert set(calls) == set(acks) == handled
    assert error == {"$ref": "#/components/schemas/ErrorAck"}


def _received(*clients):
    found = []
    for sio in clients:
        # A socket the server closed (session_expired) keeps what it received in its queue.
        for message in sio.get_received() if sio.is_connected() else list(sio.queue):
            assert len(message["args"]) == 1, message
            found.append((message["name"], message["args"][0]))
    return found


def test_real_events_and_acks_of_a_session_conform_to_the_document(app, client, connect):
    """One session produces every server event and every ack; each is validated against its documented schema."""
    document = client.get(DOCUMENT).get_json()
    server, calls, acks, error_ack = messages(document)
    assert client.put("/api/v1/reason-codes/", json={"codes": [LUNCH]},
                      headers=bearer(SUP, role="supervisor")).status_code == 200
    supervisor = connect(SUP, role="supervisor", name="Ana")
    agent = connect(AGENT, name="João")
    differ = connect(DIFF, auth={"token": token(DIFF, teams=["billing"]), "presence": "diff", "counts": True})
    short = connect(SHORT, exp_in=2)
    answered = {}

    def call(sio, event, data):
        conforms(document, calls[event], data)  # what we send is what the document asks for
        ack = sio.emit(event, data, callback=True)
        answered.setdefault(event, []).append(ack)
        conforms(document, acks[event] if ack.get("ok") else error_ack, ack)
        return ack

    assert call(supervisor, "join_chat", {"chat_id": CHAT})["ok"]
    assert call(agent, "typing_start", {"chat_id": CHAT})["ok"]
    assert call(supervisor, "join_chat", {"chat_id": CHAT})["typing"]  # the ack names who types
    assert call(agent, "typing_stop", {"chat_id": CHAT})["ok"]
    assert call(agent, "heartbeat", {})["ok"]
    assert call(agent, "set_status", {"status": "away", "message": "Lunch", "reason_code": "lunch",
                                      "for_minutes": 30})["ok"]
    assert call(agent, "activity", {"idle": False})["ok"]
    cursor = call(agent, "sync", {})["cursor"]
    assert call(agent, "sync", {"since": cursor})["full"] is False
    assert call(agent, "presence_sub", {"teams": ["billing"], "agent_ids": [SUP], "counts": True})["ok"]
    assert call(agent, "refresh_token", {"token": token(AGENT, name="João", exp_in=900)})["ok"]
    assert call(supervisor, "leave_chat", {"chat_id": CHAT})["ok"]
    backdate(app, AGENT, code_since=120)
    run_job(app, jobs.announce_status_overruns)
    refusals = [supervisor.emit("set_status", {"status": "asleep"}, callback=True),
                supervisor.emit("join_chat", {"chat_id": "no spaces"}, callback=True),
                supervisor.emit("refresh_token", {"token": "forged"}, callback=True),
                supervisor.emit("no_such_event", {}, callback=True)]
    for refusal in refusals:
        conforms(document, error_ack, refusal)
    assert [r["error"] for r in refusals] == ["validation_error", "validation_error", "unauthorized", "not_found"]
    time.sleep(2.1)  # the short token's exp passes
    with app.app_context():  # as runtime's loop calls it
        sockets.expire_sessions(app)
    wait_for(lambda: any(m["name"] == "presence_diff" for m in list(differ.queue)), timeout=5, message="presence_diff")
    wait_for(lambda: any(m["name"] == "presence_counts" for m in list(differ.queue)), timeout=5,
             message="presence_counts")

    received = _received(supervisor, agent, differ, short)
    for name, payload in received:
        conforms(document, server[name], payload)
    assert {name for name, _ in received} == set(server)  # every documented server event was seen, and checked
    assert set(answered) == set(acks)  # and every client event's ack
    assert all(ack["ok"] for acks_of in answered.values() for ack in acks_of)


def test_the_documents_schemas_refuse_what_the_contract_refuses(client):
    """The schemas are not so loose that anything passes: a wrong envelope, field or ack is caught."""
    document = client.get(DOCUMENT).get_json()
    server, calls, acks, error_ack = messages(document)
    change = {"agent_id": 5, "status": "online", "message": "", "timestamp": "2025-10-11T21:00:00Z", "name": "Ana",
              "previous_status": "offline", "websocket_connected": True, "is_available": True, "reason": "manual",
              "seq": 2, "reason_code": None, "teams": ["billing"]}
    good = {"event": "agent_presence_changed", "data": change, "version": "v1"}
    conforms(document, server["agent_presence_changed"], good)
    bad = [dict(good, event="presence_state"), dict(good, version="v2"), dict(good, data=dict(change, seq="2")),
           dict(good, data=dict(change, extra=1)), dict(good, data=dict(change, timestamp="2025-10-11 21:00")),
           dict(good, data=dict(change, reason="whim"))]
    for payload in bad:
        assert list(validator(document, server["agent_presence_changed"]).iter_errors(payload)), payload
    assert list(validator(document, acks["heartbeat"]).iter_errors({"ok": False, "error": "x", "message": "",
                                                                    "details": {}}))
    assert list(validator(document, calls["set_status"]).iter_errors({"status": "busy", "mood": "good"}))
    assert list(validator(document, error_ack).iter_errors({"ok": False, "error": "no_such_code", "message": "m",
                                                            "details": {}}))
