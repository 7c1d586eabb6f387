"""The only caller of socketio.emit: event names, rooms and the envelope live here."""
from .extensions import socketio
from .keys import key
from .schemas import change_event, typing_event

VERSION = "v1"
PRESENCE_CHANGED = "agent_presence_changed"
PRESENCE_STATE = "presence_state"
TYPING_START = "typing_start"
TYPING_STOP = "typing_stop"
SESSION_EXPIRED = "session_expired"


def org_room(org):
    """Room of everyone connected in an org: presence changes go here."""
    return key("org", org)


def agent_room(org, agent_id):
    """Room of one agent's sockets, across tabs and processes."""
    return key("agent", org, agent_id)


def chat_room(org, chat_id):
    """Room of a chat; scoped by org so a chat id never crosses tenants."""
    return key("chat", org, chat_id)


def envelope(event, data):
    """The origin's envelope around an event's data."""
    return {"event": event, "data": data, "version": VERSION}


def presence_changed(rows):
    """Announce committed presence changes to each agent's org."""
    for row in sorted(rows, key=lambda r: (r.agent_id, r.seq)):
        socketio.emit(PRESENCE_CHANGED, envelope(PRESENCE_CHANGED, change_event(row)), to=org_room(row.org))


def typing(event, rows):
    """Announce committed typing starts or stops to each chat's room."""
    for row in rows:
        socketio.emit(event, envelope(event, typing_event(row)), to=chat_room(row.org, row.chat_id))


def presence_state(sid, agents, server_time):
    """Send the roster snapshot to one socket that just connected."""
    data = {"agents": agents, "server_time": server_time}
    socketio.emit(PRESENCE_STATE, envelope(PRESENCE_STATE, data), to=sid)


def session_expired(sid, expired_at):
    """Tell one socket its token has expired (it is disconnected next)."""
    socketio.emit(SESSION_EXPIRED, envelope(SESSION_EXPIRED, {"expired_at": expired_at}), to=sid)
