"""Socket.IO handlers of the default namespace; thin, like the REST views."""
from flask import current_app, request
from flask_jwt_extended import decode_token
from flask_socketio import ConnectionRefusedError, join_room, leave_room

from . import notify
from .errors import AppError, Unauthorized, to_wire
from .extensions import socketio
from .schemas import ActivityIn, ChatIn, Empty, StatusIn, load
from .services import connections, presence, typing
from .services.identity import ensure_agent, from_claims, refuse_query_token

LIVE = "presence_live_sockets"


def live_sockets(app=None):
    """This process's live sockets: sid -> identity."""
    return (app or current_app).extensions.setdefault(LIVE, {})


def _identity():
    identity = live_sockets().get(request.sid)
    if identity is None:
        raise Unauthorized("socket is not authenticated")
    return identity


def _authenticate(auth):
    refuse_query_token(request.args, "pass io(url, {auth: {token}})")
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token:
        raise Unauthorized("missing token: connect with io(url, {auth: {token}})")
    try:
        claims = decode_token(token)
    except Exception as exc:  # noqa: BLE001 - any decode failure is a refused token
        raise Unauthorized(f"invalid token: {exc}") from None
    identity = from_claims(claims)
    ensure_agent(identity)
    return identity


@socketio.on("connect")
def on_connect(auth=None):
    """A console connects with {token} in auth: its socket is counted, it gets presence_state."""
    try:
        identity = _authenticate(auth)
    except AppError as exc:
        body, _ = to_wire(exc)
        raise ConnectionRefusedError(exc.message, body) from None
    join_room(notify.org_room(identity.org))
    join_room(notify.agent_room(identity.org, identity.agent_id))
    if identity.is_supervisor:
        join_room(notify.supervisor_room(identity.org))
    connections.open_socket(identity, request.sid, current_app.config["PROCESS_ID"])
    live_sockets()[request.sid] = identity


@socketio.on("disconnect")
def on_disconnect(*_reason):
    """A socket closed: recount; the agent's last socket is announced after the grace."""
    identity = live_sockets().pop(request.sid, None)
    if identity is None:
        return
    agent_id, last = connections.disconnect(request.sid)
    if last:
        socketio.start_background_task(_settle_after_grace, current_app._get_current_object(), agent_id)


def _settle_after_grace(app, agent_id):
    # A little past the grace, so the database's clock has surely passed it too.
    socketio.sleep(app.config["DISCONNECT_GRACE_SECONDS"] + 0.2)
    with app.app_context():
        connections.settle([agent_id])


@socketio.on("join_chat")
def on_join_chat(data=None):
    """A console opens a chat: it joins the chat's room to see typing there."""
    identity, chat_id = _identity(), load(ChatIn, data)["chat_id"]
    join_room(notify.chat_room(identity.org, chat_id))
    return {"ok": True, "chat_id": chat_id}


@socketio.on("leave_chat")
def on_leave_chat(data=None):
    """A console leaves a chat: no more typing events from it."""
    identity, chat_id = _identity(), load(ChatIn, data)["chat_id"]
    leave_room(notify.chat_room(identity.org, chat_id))
    return {"ok": True, "chat_id": chat_id}


@socketio.on("typing_start")
def on_typing_start(data=None):
    """The agent types in a chat; renewals are silent."""
    return dict(typing.start(_identity(), load(ChatIn, data)["chat_id"]), ok=True)


@socketio.on("typing_stop")
def on_typing_stop(data=None):
    """The agent stopped typing in a chat."""
    return dict(typing.stop(_identity(), load(ChatIn, data)["chat_id"]), ok=True)


@socketio.on("heartbeat")
def on_heartbeat(data=None):
    """The console is alive; acks the server time."""
    load(Empty, data)
    mine, server_time = presence.heartbeat(_identity())
    return {"ok": True, "server_time": server_time, "presence": mine}


@socketio.on("set_status")
def on_set_status(data=None):
    """The agent sets its status, with optional message, reason code and deadline."""
    body = load(StatusIn, data)
    return {"ok": True, "presence": presence.set_status(_identity(), **body)}


@socketio.on("activity")
def on_activity(data=None):
    """The console reports the agent idle or active again (auto-away)."""
    return {"ok": True, "presence": presence.activity(_identity(), load(ActivityIn, data)["idle"])}


@socketio.on_error_default
def on_error(exc):
    """Any failure of a client event answers the contract's error ack."""
    body, _ = to_wire(exc)
    return dict(body, ok=False)
