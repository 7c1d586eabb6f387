"""Socket.IO handlers of the default namespace; thin, like the REST views.

Every client event passes through `client_event`: one argument at most, within the socket's
rate budget, on a live and unexpired session, validated by the schema module, and answered
with an ack `{"ok": true, ...}` or the error envelope with `"ok": false`.
"""
import functools
import json
import logging
from dataclasses import dataclass, field

from flask import current_app, request
from flask_socketio import ConnectionRefusedError, join_room, leave_room

from . import notify, throttle
from .errors import Forbidden, NotFound, Unauthorized, ValidationError, to_wire, translate
from .extensions import db, socketio
from .interest import Interest, interest
from .pacing import connecting, take_turn
from .schemas.auth import TokenIn
from .schemas.base import MAX_DEPTH, Empty, iso_epoch, load
from .schemas.presence import ActivityIn, PresenceSubIn, StatusIn, SubscribeIn, SyncIn
from .services import connections, presence, rosters, typing
from .services.identity import Identity, decode, ensure_agent, expired, refuse_query_token

log = logging.getLogger(__name__)
LIVE = "presence_live_sockets"
OPENING = "presence_opening_sockets"
TOO_DEEP = "\x00too-deep"  # the event name a message too deep to parse becomes
PRESENCE_MODES = ("v1", "diff")
YIELD_EVERY = 100  # sockets closed between two yields to the rest of the process


class PacketJSON:
    """JSON of Socket.IO packets: a message nested too deep to parse becomes an event that is refused."""

    dumps = staticmethod(json.dumps)

    @staticmethod
    def loads(text, **kwargs):
        try:
            return json.loads(text, **kwargs)
        except RecursionError:
            return [TOO_DEEP]  # the packet's ack id is parsed already, so the refusal is acked


@dataclass
class LiveSocket:
    """One live socket of this process: whose it is (and until when), how and what it hears, its chats."""

    identity: Identity
    diff: bool = False
    chats: set = field(default_factory=set)
    interest: Interest = None
    counts: bool = False


def live_sockets(app=None):
    """This process's live sockets: sid -> LiveSocket."""
    return (app or current_app).extensions.setdefault(LIVE, {})


def opening_sockets(app=None):
    """Sids of this process being connected right now: their rows may exist before they are live."""
    return (app or current_app).extensions.setdefault(OPENING, set())


def _authenticate(auth):
    refuse_query_token(request.args, "pass io(url, {auth: {token}})")
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str) or not token:
        raise Unauthorized("missing token: connect with io(url, {auth: {token}})")
    mode = auth.get("presence", "v1")
    if mode not in PRESENCE_MODES:
        raise ValidationError(f"auth.presence must be one of {', '.join(PRESENCE_MODES)}")
    if not isinstance(auth.get("counts", False), bool):
        raise ValidationError("auth.counts must be true or false")
    since = auth.get("since")
    if since is not None and (not isinstance(since, str) or len(since) > 64):
        raise ValidationError("auth.since must be a cursor (a string of at most 64 characters)")
    identity = decode(token)
    if identity.is_service:
        raise Forbidden("a service token has no presence: the platform's backend uses REST and webhooks")
    subscription = load(SubscribeIn, auth["subscribe"]) if auth.get("subscribe") is not None else None
    ensure_agent(identity)
    return LiveSocket(identity, diff=mode == "diff", interest=interest(identity.org, subscription),
                      counts=auth.get("counts", False)), since


@socketio.on("connect")
def on_connect(auth=None):
    """A console connects with {token} (presence: "diff", subscribe, counts) in auth; it gets presence_state."""
    opening = opening_sockets()
    opening.add(request.sid)
    try:
        _open(auth)
    finally:
        opening.discard(request.sid)


def _open(auth):
    with connecting():
        try:
            live, since = _authenticate(auth)
            identity = live.identity
            notify.follow(request.sid, live.interest, identity.agent_id, live.diff)
            join_room(notify.agent_room(identity.org, identity.agent_id))
            if identity.is_supervisor:
                join_room(notify.supervisor_room(identity.org))
            connections.open_socket(identity, request.sid, current_app.config["PROCESS_ID"], live.interest,
                                    diff=live.diff, since=since)
            if live.counts:
                _count_for(request.sid, live)
        except Exception as exc:  # noqa: BLE001 - whatever failed, the socket is refused, never half-open
            notify.forget(request.sid)
            body = to_wire(exc)[0]
            raise ConnectionRefusedError(body["message"], body) from None
    live_sockets()[request.sid] = live


def _count_for(sid, live):
    org = live.interest.org
    teams = None if live.interest.whole_org else live.interest.teams
    notify.counts(sid, org, teams, lambda: rosters.states(org))


@socketio.on("disconnect")
def on_disconnect(*_reason):
    """A socket closed: recount; the agent's last socket is announced after the grace."""
    notify.forget(request.sid)
    if live_sockets().pop(request.sid, None) is None:
        return
    take_turn()
    try:
        agent_id, last = connections.disconnect(request.sid)
    except Exception as exc:
        if translate(exc) is None:
            raise
        db.session.rollback()  # the database is away: this process's next beat drops the row
        return
    if last:
        socketio.start_background_task(_settle_after_grace, current_app._get_current_object(), [agent_id])


def _settle_after_grace(app, agent_ids):
    # A little past the grace, so the database's clock has surely passed it too.
    socketio.sleep(app.config["DISCONNECT_GRACE_SECONDS"] + 0.2)
    with app.app_context():
        connections.settle(agent_ids)


def expire_sessions(app):
    """Tell every socket whose token has expired and close it, then drop their rows in batches (every second).

    A shift's tokens share one `exp`: their sockets close in one pass, one transaction per batch.
    Should the database be away, the beat drops the rows later (they are no longer live).
    """
    live, closed = live_sockets(app), []
    for sid, socket in list(live.items()):
        if expired(socket.identity) and live.pop(sid, None) is not None:
            notify.session_expired(sid, iso_epoch(socket.identity.expires_at))
            socketio.server.disconnect(sid, namespace="/")  # on_disconnect finds it gone: no write of its own
            closed.append(sid)
            if len(closed) % YIELD_EVERY == 0:
                socketio.sleep(0)
    if closed:
        orphaned = connections.disconnect_many(closed)
        if orphaned:
            socketio.start_background_task(_settle_after_grace, app, orphaned)


def _admit(args):
    """The live socket of this event, once the event passed the socket's limits and session checks."""
    throttle.hit("socket", request.sid, local=True)
    if len(args) > 1:
        raise ValidationError("an event carries one argument (an object) at most")
    live = live_sockets().get(request.sid)
    if live is None:
        raise Unauthorized("socket is not authenticated")
    if expired(live.identity):
        raise Unauthorized("session expired: reconnect with a fresh token")
    return live


def _refusal(exc):
    return dict(to_wire(exc)[0], ok=False)


def client_event(name, schema=Empty):
    """Register `handler(live, body)` for client event `name` (body raw if schema is None); its dict is the ack."""
    def register(handler):
        @functools.wraps(handler)
        def run(*args):
            socketio.sleep(0)  # let other sockets and requests run between this socket's events
            try:
                live = _admit(args)
                data = args[0] if args else None
                return dict(handler(live, data if schema is None else load(schema, data)), ok=True)
            except Exception as exc:  # noqa: BLE001 - every failure answers the error ack
                return _refusal(exc)
        socketio.on(name)(run)
        return handler
    return register


@client_event("heartbeat")
def on_heartbeat(live, _body):
    """The console is alive; acks the server time."""
    mine, server_time = presence.heartbeat(live.identity, "socket")
    return {"server_time": server_time, "presence": mine}


@client_event("set_status", StatusIn)
def on_set_status(live, body):
    """The agent sets its status, with optional message, reason code and deadline."""
    return {"presence": presence.set_status(live.identity, **body)}


@client_event("activity", ActivityIn)
def on_activity(live, body):
    """The console reports the agent idle or active again (auto-away)."""
    return {"presence": presence.activity(live.identity, body["idle"])}


@client_event("sync", SyncIn)
def on_sync(live, body):
    """A console that missed events (a seq gap, a reconnect) reads its roster again, or what changed since a cursor."""
    org, agent_id = live.identity.org, live.identity.agent_id
    since = rosters.since_of(body["since"], current_app.config["SYNC_WINDOW_SECONDS"]) if "since" in body else None
    if since is not None:
        agents, removed, server_time, cursor = rosters.changed_since(org, live.interest, agent_id, since)
        answer = {"full": False, "agents": agents, "removed": removed}
    else:
        agents, server_time, cursor = rosters.roster(org, interest=live.interest, own_agent_id=agent_id)
        answer = {"full": True, "agents": agents}
    return dict(answer, typing=typing.in_chats(org, live.chats), cursor=cursor, server_time=server_time)


@client_event("presence_sub", PresenceSubIn)
def on_presence_sub(live, body):
    """A console replaces what it hears: teams and agents ({} for the whole org), and counts on or off."""
    org, agent_id = live.identity.org, live.identity.agent_id
    wanted, previous = interest(org, body), live.interest
    live.interest = wanted
    notify.follow(request.sid, wanted, agent_id, live.diff, previous=previous)
    live.counts = live.counts if body["counts"] is None else body["counts"]
    if live.counts:
        _count_for(request.sid, live)
    else:
        notify.no_counts(request.sid)
    agents, server_time, cursor = rosters.roster(org, interest=wanted, own_agent_id=agent_id)
    return {"agents": agents, "cursor": cursor, "server_time": server_time}


@client_event("refresh_token", schema=None)
def on_refresh_token(live, data):
    """The console extends its session with a fresh token of the same agent and org."""
    try:
        fresh = decode(load(TokenIn, data)["token"])
    except ValidationError as exc:
        raise Unauthorized(f"refresh_token needs {{token}}: {exc.message}") from None
    if (fresh.agent_id, fresh.org) != (live.identity.agent_id, live.identity.org):
        raise Unauthorized("the token belongs to another agent or org")
    ensure_agent(fresh)
    if fresh.is_supervisor != live.identity.is_supervisor:  # the new token may change the role
        (join_room if fresh.is_supervisor else leave_room)(notify.supervisor_room(fresh.org))
    live.identity = fresh
    return {"expires_at": iso_epoch(fresh.expires_at)}


@socketio.on("*")
def on_unknown(event, *_args):
    """An event the contract does not name: an error ack, counted against the budget."""
    try:
        throttle.hit("socket", request.sid, local=True)
        if event == TOO_DEEP:
            raise ValidationError(f"JSON must not be nested deeper than {MAX_DEPTH} levels")
        raise NotFound(f"unknown event {str(event)[:64]!r}")
    except Exception as exc:  # noqa: BLE001 - over budget, or unknown
        return _refusal(exc)


@socketio.on_error_default
def on_error(exc):
    """Any failure outside a client event's own handling answers the contract's error ack."""
    return _refusal(exc)
