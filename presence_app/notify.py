"""The only caller of socketio.emit: event names, rooms and the envelope live here."""
from .extensions import socketio
from .schemas import change_event, iso, typing_event

VERSION = "v1"
PRESENCE_CHANGED = "agent_presence_changed"
PRESENCE_STATE = "presence_state"
TYPING_START = "typing_start"
TYPING_STOP = "typing_stop"
STATUS_OVERRUN = "agent_status_overrun"


def org_room(org):
    """Room of everyone connected in an org: presence changes go here."""
    return f"org:{org}"


def agent_room(org, agent_id):
    """Room of one agent's sockets, across tabs and processes."""
    return f"agent:{org}:{agent_id}"


def supervisor_room(org):
    """Room of an org's supervisors' sockets: overrun alerts go here."""
    return f"supervisors:{org}"


def chat_room(org, chat_id):
    """Room of a chat; scoped by org so a chat id never crosses tenants."""
    return f"chat:{org}:{chat_id}"


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


def status_overrun(rows):
    """Tell each org's supervisors of statuses that outlasted their reason code's max_minutes."""
    for row in rows:
        data = {"agent_id": row.agent_id, "name": row.name, "status": row.status, "reason_code": row.reason_code,
                "since": iso(row.code_since), "max_minutes": row.max_minutes}
        socketio.emit(STATUS_OVERRUN, envelope(STATUS_OVERRUN, data), to=supervisor_room(row.org))
