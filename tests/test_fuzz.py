"""Fuzzing the REST API and the socket events with Hypothesis: a 4xx envelope or a success, never a 500.

Payloads mix valid shapes with hostile text (controls, lone surrogates, bidi overrides), wrong
types, deep nesting and unknown fields. A refused request must leave the ledger as it was.
"""
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from presence_app.models import PresenceChange

from .inprocess import count
from .support import ENVELOPE, bearer

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])



@pytest.fixture
def app(make_app):
    """An app whose rate limits stay out of the fuzzer's way (they have tests of their own)."""
    return make_app(API_RATE_LIMIT="100000 per second", SOCKET_RATE_LIMIT="100000 per second")


hostile_text = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec=None, categories=("Cc", "Cs", "Cf", "Zl", "Zp")), max_size=20),
    st.sampled_from(["online", "busy", "away", "offline", "5511999999999", "a:b", "", " ", "\ud800", "\u202e"]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=False), hostile_text)
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(hostile_text, inner, max_size=4)),
                      max_leaves=30)
fields = st.sampled_from(["status", "message", "chat_id", "email", "password", "extra", "Status", ""])
bodies = st.one_of(st.dictionaries(fields, values, max_size=4), values)
paths = st.sampled_from([
    ("POST", "/api/v1/presence/set-status/"), ("POST", "/api/v1/presence/heartbeat/"),
    ("GET", "/api/v1/presence/me/"), ("GET", "/api/v1/presence/"), ("POST", "/api/v1/typing/"),
    ("DELETE", "/api/v1/typing/"), ("POST", "/api/v1/auth/token"), ("POST", "/api/v1/presence/5/set-status/"),
])
# A URL carries UTF-8: a lone surrogate cannot even be sent there (it arrives percent-encoded, as bytes).
queries = st.dictionaries(st.sampled_from(["status", "available", "chat_id", "token", "x"]),
                          hostile_text.map(lambda t: t.encode("utf-8", "surrogatepass")), max_size=3)
raw_bodies = st.one_of(bodies.map(lambda b: json.dumps(b).encode()), st.binary(max_size=200),
                       st.integers(1, 3000).map(lambda depth: b"[" * depth + b"]" * depth))


@FUZZ
@given(route=paths, body=raw_bodies, query=queries, role=st.sampled_from(["agent", "supervisor"]))
def test_rest_answers_a_success_or_a_4xx_envelope(app, client, route, body, query, role):
    method, path = route
    before = count(app, PresenceChange)
    r = client.open(path, method=method, data=body, query_string=query, headers=bearer(5, role=role))
    assert r.status_code < 500, r.get_data(as_text=True)
    assert r.is_json
    if r.status_code >= 400:
        assert set(r.json) == ENVELOPE and isinstance(r.json["message"], str)
        assert count(app, PresenceChange) == before, "a refused request changed the ledger"


@FUZZ
@given(name=hostile_text, org=hostile_text, sub=st.one_of(hostile_text, st.integers(-5, 2**64)))
def test_any_claims_authenticate_or_answer_401(app, client, name, org, sub):
    r = client.get("/api/v1/presence/me/", headers=bearer(sub, name=name or None, org=org))
    assert r.status_code in (200, 401), r.get_data(as_text=True)
    if r.status_code == 200:
        assert r.json["name"] == (name or f"Agent {sub}").strip()


events = st.sampled_from(["join_chat", "leave_chat", "typing_start", "typing_stop", "heartbeat", "set_status",
                          "refresh_token", "sync", "nope"])


@FUZZ
@given(calls=st.lists(st.tuples(events, st.lists(bodies, max_size=2)), min_size=1, max_size=5))
def test_socket_events_answer_an_ack_or_an_error_envelope(app, connect, calls):
    sio = connect(7)
    for event, args in calls:
        ack = sio.emit(event, *args, callback=True)
        assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), (event, args, ack)
        if not ack["ok"]:
            assert set(ack) == {"ok"} | ENVELOPE and ack["error"] != "internal_error", (event, args, ack)
    sio.disconnect()
