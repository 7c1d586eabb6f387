"""The AsyncAPI 3.0 document of the Socket.IO events, its payloads converted from marshmallow by apispec.

The application described is the server: it `send`s the server events and `receive`s the
client events, answering each with an ack (`reply`): the event's own, or the error ack.
"""
from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from . import notify, openapi
from .schemas.auth import TokenIn
from .schemas.base import Empty
from .schemas.presence import ActivityIn, PresenceSubIn, StatusIn, SyncIn
from .schemas.typing import ChatIn
from .shapes import auth, base, presence, reason_codes, typing

CHANNEL = "default"
_CACHE = "presence_asyncapi"
# Server events: name -> (data schema, summary).
SERVER_EVENTS = {
    notify.PRESENCE_STATE: (presence.StateData, "The org's roster, to the socket that just connected"),
    notify.PRESENCE_CHANGED: (presence.ChangeData, "One real presence change, to the org (v1 sockets)"),
    notify.PRESENCE_DIFF: (presence.DiffData, "The changes of one PRESENCE_BATCH_MS window, to diff-mode sockets"),
    notify.PRESENCE_COUNTS: (presence.Counts, "Counts of the org and teams, once after asking, then on change"),
    notify.TYPING_START: (typing.TypingData, "An agent started typing, to the chat's room"),
    notify.TYPING_STOP: (typing.TypingData, "An agent stopped typing, to the chat's room"),
    notify.SESSION_EXPIRED: (auth.ExpiredData, "The socket's token expired; the socket is closed next"),
    notify.STATUS_OVERRUN: (reason_codes.OverrunData,
                            "A status outlasted its reason code's max_minutes, to supervisors"),
}
# Client events: name -> (payload schema, ack schema, summary).
CLIENT_EVENTS = {
    "join_chat": (ChatIn, typing.JoinAck, "Join a chat's room to see typing there"),
    "leave_chat": (ChatIn, typing.ChatAck, "Leave a chat's room"),
    "typing_start": (ChatIn, typing.TypingStartAck, "I am typing in a chat (renewals are silent)"),
    "typing_stop": (ChatIn, typing.TypingStopAck, "I stopped typing in a chat"),
    "heartbeat": (Empty, presence.HeartbeatAck, "I am alive"),
    "set_status": (StatusIn, presence.PresenceAck, "Set my status"),
    "activity": (ActivityIn, presence.PresenceAck, "My console is idle (true) or active (false)"),
    "sync": (SyncIn, presence.SyncAck, "Read the roster (or what changed since a cursor) and my chats' typing"),
    "presence_sub": (PresenceSubIn, presence.SubAck, "Replace what this socket hears: teams, agents, counts"),
    "refresh_token": (TokenIn, auth.RefreshAck, "Extend this socket's session with a fresh token"),
}
ENVELOPE_VERSION = notify.VERSION


def document(app):
    """The app's AsyncAPI document (a dict), built on first use."""
    if _CACHE not in app.extensions:
        app.extensions[_CACHE] = _build()
    return app.extensions[_CACHE]


def _json_schemas():
    """Every schema of the document as JSON Schema, with refs under #/components/schemas."""
    ma = MarshmallowPlugin()
    spec = APISpec("events", openapi.VERSION, "3.1.0", plugins=[ma])
    openapi.register_fields(ma)
    for data, _summary in SERVER_EVENTS.values():
        _add(spec, data)
    for payload, ack, _summary in CLIENT_EVENTS.values():
        _add(spec, payload)
        _add(spec, ack)
    _add(spec, base.ErrorAck)
    return spec.to_dict()["components"]["schemas"]


def _add(spec, schema):
    if schema.__name__ not in spec.components.schemas:
        spec.components.schema(schema.__name__, getattr(schema, "OPENAPI", None), schema=schema)  # rules across fields


def _ref(schema):
    return {"$ref": f"#/components/schemas/{schema.__name__}"}


def _envelope(name, data):
    return {"type": "object", "required": ["event", "data", "version"], "additionalProperties": False,
            "properties": {"event": {"const": name}, "data": _ref(data), "version": {"const": ENVELOPE_VERSION}}}


def _message_ref(key):
    return {"$ref": f"#/channels/{CHANNEL}/messages/{key}"}


def _build():
    messages, operations = {}, {}
    for name, (data, summary) in SERVER_EVENTS.items():
        messages[name] = {"name": name, "summary": summary, "payload": _envelope(name, data)}
        operations[f"send_{name}"] = {"action": "send", "channel": {"$ref": f"#/channels/{CHANNEL}"},
                                      "summary": summary, "messages": [_message_ref(name)]}
    messages["error.ack"] = {"name": "error ack", "summary": "Any refused client event's ack",
                             "payload": _ref(base.ErrorAck)}
    for name, (payload, ack, summary) in CLIENT_EVENTS.items():
        messages[f"{name}.call"] = {"name": name, "summary": summary, "payload": _ref(payload)}
        messages[f"{name}.ack"] = {"name": f"{name} ack", "summary": f"The ack of {name}", "payload": _ref(ack)}
        operations[f"receive_{name}"] = {
            "action": "receive", "channel": {"$ref": f"#/channels/{CHANNEL}"}, "summary": summary,
            "messages": [_message_ref(f"{name}.call")],
            "reply": {"channel": {"$ref": f"#/channels/{CHANNEL}"},
                      "messages": [_message_ref(f"{name}.ack"), _message_ref("error.ack")]}}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "presence_app events", "version": openapi.VERSION, "description": (
            "Socket.IO (protocol 5), default namespace. Connect with io(url, {auth: {token}}) "
            "(and presence: \"diff\" for batched changes; subscribe: {teams, agent_ids} to hear only those "
            "agents and your own, at most 20 teams and 500 ids; counts: true for presence_counts; since: the cursor of "
            "your last roster, after a reconnect, for only what changed after it); a refused "
            "connection's connect_error carries the "
            "error envelope {error, message, details} in its data. Server events carry the envelope "
            "{event, data, version}; every client event is answered with an ack, its own or the error ack. "
            "The REST API is in /api/v1/openapi.json.")},
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "localhost:8001", "protocol": "ws", "pathname": "/socket.io/",
                              "description": "./dev.py run; any deployment serves the same path",
                              "security": [{"$ref": "#/components/securitySchemes/token"}]}},
        "channels": {CHANNEL: {"address": "/", "title": "The default namespace", "messages": messages}},
        "operations": operations,
        "components": {"schemas": _json_schemas(), "securitySchemes": {"token": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "the platform's JWT, in the connect auth payload: io(url, {auth: {token}})"}}},
    }
