"""Hostile and careless input: each answer is a 4xx in the envelope (never a 500) and changes nothing.

Every case here answered 500 (or was accepted and stored) before: OPTIONS without a token, lone
surrogates, JSON nested 2,000 deep, an agent id past 2^63-1, a socket event with two arguments,
token names with NUL, surrogates or bidi overrides, an unknown socket event, chunked bodies.
"""
import json
import socket

import pytest
import requests
import websocket

from presence_app.extensions import socketio
from presence_app.models import Agent, PresenceChange
from presence_app.sockets import live_sockets

from .inprocess import count
from .support import ENVELOPE, FAST, bearer, token

ME = "/api/v1/presence/me/"
SET_STATUS = "/api/v1/presence/set-status/"


def assert_envelope(r, status, error):
    assert r.status_code == status, r.get_data(as_text=True)
    assert set(r.json) == ENVELOPE and r.json["error"] == error and r.json["message"]


def nested(depth):
    return "[" * depth + "]" * depth


REST_CASES = {
    "lone surrogate in a message": ("POST", SET_STATUS, '{"status": "busy", "message": "\\ud800"}', 400),
    "low surrogate in a message": ("POST", SET_STATUS, '{"status": "busy", "message": "x\\udfffy"}', 400),
    "bidi override in a message": ("POST", SET_STATUS, '{"status": "busy", "message": "abc\\u202edef"}', 400),
    "bidi isolate in a message": ("POST", SET_STATUS, '{"status": "busy", "message": "\\u2067x"}', 400),
    "JSON nested 2,000 deep": ("POST", SET_STATUS, nested(2000), 400),
    "JSON nested 33 deep in a field": ("POST", SET_STATUS, '{"status": "busy", "message": ' + nested(33) + "}", 400),
    "JSON nested 33 deep, an object": ("POST", SET_STATUS, '{"a":' * 33 + "1" + "}" * 33, 400),
    "chat id nested deep": ("POST", "/api/v1/typing/", '{"chat_id": ' + nested(500) + "}", 400),
    "agent id 2^63": ("GET", "/api/v1/presence/9223372036854775808/", None, 404),
    "agent id 10^19": ("GET", "/api/v1/presence/10000000000000000000/", None, 404),
    "agent id of 25 digits": ("GET", "/api/v1/presence/1234567890123456789012345/", None, 404),
    "agent id 0": ("GET", "/api/v1/presence/0/", None, 404),
    "agent id 2^63 set-status": ("POST", "/api/v1/presence/9223372036854775808/set-status/", '{"status": "busy"}', 404),
}


@pytest.mark.parametrize("case", list(REST_CASES))
def test_hostile_rest_input_is_a_4xx_and_changes_nothing(app, client, case):
    method, path, body, status = REST_CASES[case]
    r = client.open(path, method=method, data=body, headers=bearer(5, role="supervisor"))
    assert_envelope(r, status, {400: "validation_error", 404: "not_found"}[status])
    assert count(app, PresenceChange) == 0
    assert client.get(ME, headers=bearer(5)).json["seq"] == 0


LOGIN = "/api/v1/auth/token"


@pytest.mark.parametrize("body, field", [
    ({"email": "m\u0000x@example.com", "password": "presence-demo"}, "email"),  # PostgreSQL refuses NUL: was 500
    ({"email": "m\ud800@example.com", "password": "presence-demo"}, "email"),
    ({"email": "ana@example.com", "password": "x\ud800"}, "password"),  # no UTF-8 to hash: was 500
])
def test_a_login_with_text_no_one_can_type_is_a_400(client, body, field):
    r = client.post(LOGIN, data=json.dumps(body), content_type="application/json")
    assert_envelope(r, 400, "validation_error")
    assert field in r.json["details"]


def test_the_largest_agent_id_is_a_plain_404(client):
    assert_envelope(client.get("/api/v1/presence/9223372036854775807/", headers=bearer(5)), 404, "not_found")


def test_json_nested_32_deep_is_still_json(client):
    # The limit counts levels: 32 are allowed (and here refused only for the field's type).
    r = client.post(SET_STATUS, data='{"status": "busy", "message": ' + nested(31) + "}", headers=bearer(5))
    assert_envelope(r, 400, "validation_error")
    assert r.json["details"] == {"message": ["must be a string"]}


@pytest.mark.parametrize("name", ["nul\x00name", "lone \ud800 surrogate", "bidi \u202e override", "isolate \u2066",
                                  "bell\x07", "c1 \x9b control", "line\u2028separator"])
def test_a_token_name_breaking_the_text_rules_is_a_401_and_provisions_nobody(app, client, name):
    r = client.get(ME, headers=bearer(5, name=name))
    assert_envelope(r, 401, "unauthorized")
    assert r.json["message"].startswith("token name must not contain")
    assert count(app, Agent) == 0


def test_a_renaming_token_with_a_bad_name_changes_nothing(client):
    assert client.get(ME, headers=bearer(5, name="Ana")).json["name"] == "Ana"
    assert_envelope(client.get(ME, headers=bearer(5, name="Ana\x00")), 401, "unauthorized")
    assert client.get("/api/v1/presence/5/", headers=bearer(6)).json["name"] == "Ana"


def test_a_socket_with_a_bad_token_name_is_refused(app, connect):
    sio = connect(5, name="Ana\u202e")
    assert not sio.is_connected()
    assert count(app, Agent) == 0


def test_create_agent_refuses_a_name_breaking_the_text_rules(app, runner):
    result = runner.invoke(args=["create-agent", "--email", "a@example.com", "--name", "Ana\u202e",
                                 "--password", "long-enough"])
    assert result.exit_code != 0 and "name must not contain bidirectional" in result.output
    assert count(app, Agent) == 0


@pytest.mark.parametrize("path", [ME, SET_STATUS, "/api/v1/presence/", "/api/v1/presence/5/", "/api/v1/typing/",
                                  "/api/v1/auth/token"])
def test_options_answers_without_a_token(client, path):
    r = client.options(path)
    assert r.status_code == 200
    assert "OPTIONS" in r.headers["Allow"]


def test_a_cors_preflight_from_an_allowed_origin_is_answered_for_it(make_app):
    client = make_app(CORS_ALLOWED_ORIGINS="https://console.example").test_client()
    headers = {"Origin": "https://console.example", "Access-Control-Request-Method": "POST",
               "Access-Control-Request-Headers": "authorization, content-type"}
    r = client.options(SET_STATUS, headers=headers)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://console.example"
    assert "authorization" in r.headers["Access-Control-Allow-Headers"].lower()
    evil = client.options(SET_STATUS, headers=dict(headers, Origin="https://evil.example"))
    assert "Access-Control-Allow-Origin" not in evil.headers


@pytest.mark.parametrize("event, args", [
    ("typing_start", ({"chat_id": "1"}, {"x": 1})),
    ("set_status", ({"status": "busy"}, "extra")),
    ("heartbeat", ({}, {})),
    ("join_chat", ({"chat_id": "1"}, 2, 3)),
])
def test_a_socket_event_with_extra_arguments_answers_an_error_ack(app, connect, event, args):
    sio = connect(7)
    ack = sio.emit(event, *args, callback=True)
    assert ack == {"ok": False, "error": "validation_error", "details": {},
                   "message": "an event carries one argument (an object) at most"}
    assert count(app, PresenceChange) == 1  # the connect, nothing more


@pytest.mark.parametrize("event", ["nope", "typing", "Heartbeat", "connect_error", "x" * 500])
def test_an_unknown_socket_event_answers_an_error_ack(connect, event):
    ack = connect(7).emit(event, {}, callback=True)
    assert ack["ok"] is False and ack["error"] == "not_found" and ack["message"].startswith("unknown event")
    assert set(ack) == {"ok"} | ENVELOPE


@pytest.mark.parametrize("data, field", [
    ({"status": "busy", "message": "\ud800"}, "message"),
    ({"status": "busy", "message": "\u202e"}, "message"),
    ({"status": "busy", "message": json.loads(nested(40))}, "_schema"),
])
def test_hostile_socket_payloads_answer_validation_errors(app, connect, data, field):
    ack = connect(7).emit("set_status", data, callback=True)
    assert (ack["ok"], ack["error"]) == (False, "validation_error")
    assert field in ack["details"] or "nested" in ack["message"]
    assert count(app, PresenceChange) == 1


def test_api_answers_say_nosniff_and_no_store_and_retry_after_only_when_refused(make_app):
    client = make_app(API_RATE_LIMIT="2 per minute").test_client()
    ok = client.get(ME, headers=bearer(5))
    assert ok.headers["X-Content-Type-Options"] == "nosniff" and ok.headers["Cache-Control"] == "no-store"
    assert "Retry-After" not in ok.headers
    bad = client.post(SET_STATUS, json={"status": "nope"}, headers=bearer(5))
    assert bad.status_code == 400 and "Retry-After" not in bad.headers and bad.headers["Cache-Control"] == "no-store"
    refused = client.get(ME, headers=bearer(5))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert client.get("/health").headers["Cache-Control"] == "no-store"


# Chunked bodies through the real server (eventlet de-chunks them; werkzeug used to read nothing).


def _raw_post(url, path, headers, chunks):
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        head = [f"POST {path} HTTP/1.1", f"Host: {host}", "Transfer-Encoding: chunked", "Connection: close"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        body = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks) + b"0\r\n\r\n"
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        raw = b""
        while chunk := conn.recv(65536):
            raw += chunk
    head, _, payload = raw.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    if b"chunked" in head.lower():
        payload = _dechunk(payload)
    return status, json.loads(payload)


def _dechunk(data):
    out = b""
    while True:
        size, _, rest = data.partition(b"\r\n")
        size = int(size, 16)
        if not size:
            return out
        out, data = out + rest[:size], rest[size + 2:]


@pytest.mark.processes
def test_chunked_bodies_are_read_and_capped_like_any_other(processes):
    _, url = processes.web(**FAST)
    auth = bearer(5)
    status, body = _raw_post(url, SET_STATUS, auth, [b'{"status": "bu', b'sy", "message": "chunked"}'])
    assert status == 200 and (body["status"], body["status_message"]) == ("busy", "chunked")
    big = [b'{"status": "away", "message": "' + b"x" * 9000, b"y" * 9000 + b'"}']
    status, body = _raw_post(url, SET_STATUS, auth, big)
    assert status == 413 and body["error"] == "payload_too_large"
    assert requests.get(f"{url}{ME}", headers=auth, timeout=10).json()["status"] == "busy"


@pytest.mark.processes
def test_a_socket_message_over_16_kib_closes_that_socket_only(processes, clients):
    _, url = processes.web(**FAST)
    hostile = clients.console(url, 1).connect()
    colleague = clients.console(url, 2).connect()
    with pytest.raises(Exception):  # noqa: B017 - the server closes the socket: no ack ever comes
        hostile.sio.call("set_status", {"status": "busy", "message": "x" * (17 * 1024)}, timeout=5)
    assert not hostile.sio.connected
    ack = colleague.call("set_status", {"status": "busy", "message": "y" * 140})
    assert ack["ok"] and ack["presence"]["status_message"] == "y" * 140
    under = clients.console(url, 3).connect()
    ack = under.call("set_status", {"status": "busy", "message": "z" * (15 * 1024)})
    assert (ack["ok"], ack["error"]) == (False, "validation_error")  # read, then refused for its length


@pytest.mark.processes
def test_a_socket_message_nested_too_deep_to_parse_is_acked_as_an_error(processes):
    proc, url = processes.web(**FAST)
    ws = websocket.create_connection(url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket", timeout=10)
    try:
        assert ws.recv().startswith("0")  # Engine.IO open
        ws.send("40" + json.dumps({"token": token(5)}))
        while not ws.recv().startswith("40"):  # its own connect and presence_state may come first
            pass
        ws.send('421["set_status",' + nested(3000) + "]")
        ack = ws.recv()
        assert ack.startswith("431")
        assert json.loads(ack[3:]) == [{"ok": False, "error": "validation_error", "details": {},
                                        "message": "JSON must not be nested deeper than 32 levels"}]
        ws.send('422["heartbeat",{}]')
        assert json.loads(ws.recv()[3:])[0]["ok"] is True  # the socket still works
    finally:
        ws.close()
    assert "Traceback" not in proc.log()


def test_a_connect_that_fails_inside_is_refused_and_leaves_nothing_behind(make_app, tmp_path):
    # A database without its tables: the connect handler fails after authenticating the token.
    broken = make_app(DATABASE_URL=f"sqlite:///{tmp_path / 'unmigrated.db'}")
    sio = socketio.test_client(broken, auth={"token": token(5)}, flask_test_client=broken.test_client())
    assert not sio.is_connected()
    assert socketio.server.manager.sid_from_eio_sid(sio.eio_sid, "/") is None  # in no room
    assert live_sockets(broken) == {}
    assert list(sio.queue) == []  # no presence_state, nothing half-sent
