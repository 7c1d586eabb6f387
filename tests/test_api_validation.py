"""REST input rules and the one error envelope: 400, 404, 405, 413, 429, 500; trailing slashes; body parsing."""
import json

import pytest

from .support import assert_error, bearer

ME = "/api/v1/presence/me/"
SET_STATUS = "/api/v1/presence/set-status/"
HEARTBEAT = "/api/v1/presence/heartbeat/"
ROSTER = "/api/v1/presence/"
TYPING = "/api/v1/typing/"
MAX_BODY = 16 * 1024


def assert_unchanged(client, sub=5):
    me = client.get(ME, headers=bearer(sub)).json
    assert (me["status"], me["status_message"], me["seq"]) == ("offline", "", 0)


@pytest.mark.parametrize("body, field", [
    ({"status": "Online"}, "status"),
    ({"status": "ONLINE"}, "status"),
    ({"status": " online"}, "status"),
    ({"status": "online "}, "status"),
    ({"status": "online\n"}, "status"),
    ({"status": "\tbusy"}, "status"),
    ({"status": ""}, "status"),
    ({"status": "available"}, "status"),
    ({"status": None}, "status"),
    ({"status": 1}, "status"),
    ({"status": ["online"]}, "status"),
    ({}, "status"),
    ({"message": "In a meeting"}, "status"),
    ({"status": "busy", "message": "x" * 141}, "message"),
    ({"status": "busy", "message": "ã" * 141}, "message"),
    ({"status": "busy", "message": "line one\nline two"}, "message"),
    ({"status": "busy", "message": "carriage\rreturn"}, "message"),
    ({"status": "busy", "message": "tab\there"}, "message"),
    ({"status": "busy", "message": "nul\x00"}, "message"),
    ({"status": "busy", "message": "\x1b[31mred"}, "message"),
    ({"status": "busy", "message": "del\x7f"}, "message"),
    ({"status": "busy", "message": "c1\x85control"}, "message"),
    ({"status": "busy", "message": "line\u2028separator"}, "message"),
    ({"status": "busy", "message": "para\u2029separator"}, "message"),
    ({"status": "busy", "message": None}, "message"),
    ({"status": "busy", "message": 5}, "message"),
    ({"status": "busy", "message": ["In a meeting"]}, "message"),
    ({"status": "busy", "extra": 1}, "extra"),
    ({"status": "busy", "Status": "busy"}, "Status"),
    ({"status": "busy", "message": "", "agent_id": 7}, "agent_id"),
])
def test_set_status_rules(client, body, field):
    r = client.post(SET_STATUS, json=body, headers=bearer(5))
    assert_error(r, 400, "validation_error")
    assert field in r.json["details"]
    assert r.json["message"].startswith(field)
    assert_unchanged(client)


@pytest.mark.parametrize("message", ["", "x" * 140, "ã" * 140, "Em reunião até 15h ☕", "  spaced  ", "Ünïcödé 日本語"])
def test_set_status_accepts_messages_up_to_140_characters(client, message):
    r = client.post(SET_STATUS, json={"status": "busy", "message": message}, headers=bearer(5))
    assert r.status_code == 200
    assert r.json["status_message"] == message


@pytest.mark.parametrize("raw, reason", [
    (b"status=busy", "body must be valid JSON"),
    (b"{", "body must be valid JSON"),
    (b'{"status": "busy",}', "body must be valid JSON"),
    (b"\xff\xfe", "body must be valid JSON"),
    (b"[]", "body must be a JSON object"),
    (b'"busy"', "body must be a JSON object"),
    (b"null", "body must be a JSON object"),
    (b"42", "body must be a JSON object"),
])
def test_set_status_refuses_bodies_that_are_not_a_json_object(client, raw, reason):
    r = client.post(SET_STATUS, data=raw, headers=bearer(5))
    assert_error(r, 400, "validation_error")
    assert r.json["message"] == reason
    assert_unchanged(client)


def test_set_status_refuses_an_empty_body(client):
    r = client.post(SET_STATUS, headers=bearer(5))
    assert_error(r, 400, "validation_error")
    assert "status" in r.json["details"]


@pytest.mark.parametrize("content_type", [
    None, "application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded", "text/plain",
])
def test_json_bodies_are_read_whatever_the_content_type(client, content_type):
    headers = dict(bearer(5), **({"Content-Type": content_type} if content_type else {}))
    r = client.post(SET_STATUS, data='{"status": "online"}', headers=headers)
    assert r.status_code == 200
    assert r.json["status"] == "online"


def _padded(total):
    """A set-status body of exactly `total` bytes (its message far too long)."""
    frame = json.dumps({"status": "busy", "message": ""})
    return frame.replace('""', '"' + "x" * (total - len(frame)) + '"')


@pytest.mark.parametrize("path", [SET_STATUS, HEARTBEAT, TYPING, "/api/v1/presence/5/set-status/",
                                  "/api/v1/auth/token"])
def test_bodies_over_16_kib_are_refused_with_413(client, path):
    r = client.post(path, data=_padded(MAX_BODY + 1), headers=bearer(5, role="supervisor"))
    assert_error(r, 413, "payload_too_large")


def test_a_body_of_exactly_16_kib_is_read(client):
    body = _padded(MAX_BODY)
    assert len(body.encode()) == MAX_BODY
    r = client.post(SET_STATUS, data=body, headers=bearer(5))
    assert_error(r, 400, "validation_error")  # read and judged, not refused for size
    assert "message" in r.json["details"]


@pytest.mark.parametrize("chat_id", [
    "", "x" * 65, "a b", "chat/1", "chat#1", "chat?1", "ção", "chat\n", " chat", "<script>", "١٢٣", "chat%20id",
    None, 5511999999999, ["5511999999999"], {"id": 1},
])
def test_typing_post_refuses_bad_chat_ids(client, chat_id):
    r = client.post(TYPING, json={"chat_id": chat_id}, headers=bearer(5))
    assert_error(r, 400, "validation_error")
    assert "chat_id" in r.json["details"]


@pytest.mark.parametrize("chat_id", ["", "x" * 65, "a b", "chat/1", "chat#1", "ção", "chat\n", "<script>"])
def test_typing_delete_refuses_bad_chat_ids(client, chat_id):
    r = client.delete(TYPING, query_string={"chat_id": chat_id}, headers=bearer(5))
    assert_error(r, 400, "validation_error")
    assert "chat_id" in r.json["details"]


@pytest.mark.parametrize("chat_id", [
    "5511999999999", "x", "x" * 64, "A_b.c:d@e+f-g", "whatsapp:+5511999999999", "120363025@g.us", "web-chat_42.1",
])
def test_typing_accepts_chat_ids_of_letters_digits_and_the_allowed_marks(client, chat_id):
    started = client.post(TYPING, json={"chat_id": chat_id}, headers=bearer(5))
    assert started.status_code == 200 and started.json["chat_id"] == chat_id
    stopped = client.delete(TYPING, query_string={"chat_id": chat_id}, headers=bearer(5))
    assert stopped.status_code == 200 and stopped.json == {"chat_id": chat_id, "typing": False, "stopped": True}


@pytest.mark.parametrize("method, path, kwargs, field", [
    ("POST", TYPING, {"json": {}}, "chat_id"),
    ("POST", TYPING, {"json": {"chat_id": "5511", "extra": 1}}, "extra"),
    ("POST", TYPING, {"json": {"chat_id": "5511", "typing": True}}, "typing"),
    ("DELETE", TYPING, {}, "chat_id"),
    ("DELETE", TYPING, {"query_string": {"chat_id": "5511", "extra": "1"}}, "extra"),
    ("POST", HEARTBEAT, {"json": {"status": "online"}}, "status"),
    ("GET", ROSTER, {"query_string": {"status": "Online"}}, "status"),
    ("GET", ROSTER, {"query_string": {"status": ""}}, "status"),
    ("GET", ROSTER, {"query_string": {"status": "online "}}, "status"),
    ("GET", ROSTER, {"query_string": {"available": "yes"}}, "available"),
    ("GET", ROSTER, {"query_string": {"available": ""}}, "available"),
    ("GET", ROSTER, {"query_string": {"page": "2"}}, "page"),
    ("GET", ROSTER, {"query_string": {"status": "online", "org": "other"}}, "org"),
])
def test_missing_and_unknown_fields_and_query_parameters(client, method, path, kwargs, field):
    r = client.open(path, method=method, headers=bearer(5), **kwargs)
    assert_error(r, 400, "validation_error")
    assert field in r.json["details"]


@pytest.mark.parametrize("raw", [b"", b"{}"])
def test_heartbeat_takes_no_body_or_an_empty_object(client, raw):
    assert client.post(HEARTBEAT, data=raw, headers=bearer(5)).status_code == 200


@pytest.mark.parametrize("raw", [b"alive", b"[]"])
def test_heartbeat_refuses_a_body_that_is_not_a_json_object(client, raw):
    assert_error(client.post(HEARTBEAT, data=raw, headers=bearer(5)), 400, "validation_error")


@pytest.mark.parametrize("method, path, kwargs", [
    ("GET", "/api/v1/presence/me", {}),
    ("POST", "/api/v1/presence/set-status", {"json": {"status": "online"}}),
    ("POST", "/api/v1/presence/heartbeat", {}),
    ("GET", "/api/v1/presence", {}),
    ("GET", "/api/v1/presence/5", {}),
    ("POST", "/api/v1/presence/5/set-status", {"json": {"status": "busy"}}),
    ("POST", "/api/v1/typing", {"json": {"chat_id": "5511999999999"}}),
    ("DELETE", "/api/v1/typing", {"query_string": {"chat_id": "5511999999999"}}),
    ("GET", "/health", {}),
])
@pytest.mark.parametrize("slash", ["", "/"])
def test_trailing_slash_is_optional_on_every_path(client, method, path, kwargs, slash):
    r = client.open(path + slash, method=method, headers=bearer(5, role="supervisor"), **kwargs)
    assert r.status_code == 200


@pytest.mark.parametrize("slash", ["", "/"])
def test_trailing_slash_is_optional_on_login(client, runner, slash):
    runner.invoke(args=["create-agent", "--email", "ana@example.com", "--name", "Ana", "--password", "long-enough"])
    r = client.post("/api/v1/auth/token" + slash, json={"email": "ana@example.com", "password": "long-enough"})
    assert r.status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/nothing", "/api/v1/presence/abc/", "/api/v1/presence/5/nothing/",
                                  "/nothing"])
def test_unknown_paths_answer_404_in_the_envelope(client, path):
    assert_error(client.get(path, headers=bearer(5)), 404, "not_found")


@pytest.mark.parametrize("method, path, allowed", [
    ("PUT", ME, {"GET"}),
    ("DELETE", SET_STATUS, {"POST"}),
    ("GET", HEARTBEAT, {"POST"}),
    ("GET", TYPING, {"POST", "DELETE"}),
    ("PATCH", "/api/v1/presence/5/", {"GET"}),
])
def test_wrong_methods_answer_405_in_the_envelope_with_allow(client, method, path, allowed):
    r = client.open(path, method=method, headers=bearer(5))
    assert_error(r, 405, "method_not_allowed")
    assert allowed <= {m.strip() for m in r.headers["Allow"].split(",")}


def test_too_many_requests_answer_429_in_the_envelope(make_app):
    client = make_app(API_RATE_LIMIT="3 per minute").test_client()
    headers = bearer(5)  # one credential: the limit is keyed by it
    for _ in range(3):
        assert client.get(ME, headers=headers).status_code == 200
    r = client.get(ME, headers=headers)
    assert_error(r, 429, "too_many_requests")
    assert int(r.headers["Retry-After"]) > 0
    assert client.get(ME, headers=bearer(6)).status_code == 200  # limited per credential, not per address


def test_an_unexpected_failure_answers_500_without_internals(app, client):
    def explode():
        raise RuntimeError("secret internals: password=hunter2")

    app.add_url_rule("/explode", view_func=explode)
    r = client.get("/explode")
    assert_error(r, 500, "internal_error")
    assert "hunter2" not in r.get_data(as_text=True)
    assert "Traceback" not in r.get_data(as_text=True)


def test_the_api_rate_limit_does_not_apply_to_the_console_or_health(make_app):
    client = make_app(API_RATE_LIMIT="2 per minute").test_client()
    for _ in range(4):
        assert client.get("/").status_code == 200
        assert client.get("/health").status_code == 200
    statuses = [client.get("/api/v1/presence/me/", headers=bearer(41)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
