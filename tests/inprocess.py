"""Helpers for the in-process app: its tables, and what Flask-SocketIO's test client received."""
from datetime import timedelta

from sqlalchemy import func, select, update

from presence_app.extensions import db
from presence_app.models import Agent, Presence, PresenceChange

from .support import bearer, envelope_of

GRACE = 0.3  # DISCONNECT_GRACE_SECONDS of the in-process socket tests


def presence_of(client, agent_id, viewer=99, org=None):
    """GET /presence/<agent_id>/ through the Flask test client, as agent `viewer`."""
    return client.get(f"/api/v1/presence/{agent_id}/", headers=bearer(viewer, org=org)).json


def set_status(client, sub, status, message=None, **claims):
    """POST set-status as agent `sub`; return the answer's JSON."""
    body = {"status": status} if message is None else {"status": status, "message": message}
    return client.post("/api/v1/presence/set-status/", json=body, headers=bearer(sub, **claims)).json


def run_job(app, job):
    """Run a job function as the worker does, inside an app context."""
    with app.app_context():
        return job()


def count(app, model):
    """How many rows the model's table holds."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def ledger(app, agent_id):
    """The agent's rows in presence_changes, oldest first, as (seq, from, to, message, connected, reason)."""
    with app.app_context():
        rows = db.session.scalars(
            select(PresenceChange).where(PresenceChange.agent_id == agent_id).order_by(PresenceChange.seq)).all()
        return [(r.seq, r.from_status, r.to_status, r.message, r.websocket_connected, r.reason) for r in rows]


def backdate(app, agent_id, **seconds):
    """Move presence timestamps into the past, as if that much time had gone by."""
    with app.app_context():
        row = db.session.get(Presence, agent_id)
        for column, ago in seconds.items():
            setattr(row, column, getattr(row, column) - timedelta(seconds=ago))
        db.session.commit()


def silence(app, agent_id):
    """Move the agent's last sign of life past the presence timeout."""
    backdate(app, agent_id, last_seen=app.config["PRESENCE_TIMEOUT_SECONDS"] + 5)


def drain(sio):
    """Everything a Flask-SocketIO test client received since the last drain, as (event name, payload)."""
    received = []
    for message in sio.get_received():
        assert len(message["args"]) == 1, message
        received.append((message["name"], message["args"][0]))
    return received


def data_of(received, event):
    """The data of each `event` envelope received, checking the envelope itself."""
    return [envelope_of(payload, event) for name, payload in received if name == event]


def changes(sio):
    """The data of every agent_presence_changed a test client received since the last drain."""
    return data_of(drain(sio), "agent_presence_changed")


def pending(sio, event):
    """How many `event`s wait in the client's queue (read without draining; a background thread may append)."""
    return sum(1 for message in list(sio.queue) if message["name"] == event)


def record(app, agent_id, changes, org="default", name=None):
    """Write an agent (if new) and ledger rows (at, from, to, websocket_connected, reason, reason_code), numbered on."""
    with app.app_context():
        if db.session.get(Agent, agent_id) is None:
            db.session.add(Agent(id=agent_id, org=org, name=name or f"Agent {agent_id}", role="agent"))
            db.session.flush()
            db.session.add(Presence(agent_id=agent_id, org=org, name=name or f"Agent {agent_id}"))
        seq = db.session.scalar(select(func.coalesce(func.max(PresenceChange.seq), 0))
                                .where(PresenceChange.agent_id == agent_id))
        for at, before, after, connected, reason, code in changes:
            seq += 1
            db.session.add(PresenceChange(agent_id=agent_id, org=org, seq=seq, from_status=before, to_status=after,
                                          message="", websocket_connected=connected, reason=reason, reason_code=code,
                                          at=at))
        db.session.commit()


def seat(app, ids, org="default", **values):
    """Agents (created if new) online with a live socket, as routing sees them, with presence values set."""
    with app.app_context():
        for agent_id in ids:
            if db.session.get(Agent, agent_id) is None:
                db.session.add(Agent(id=agent_id, org=org, name=f"Agent {agent_id}", role="agent"))
                db.session.flush()
                db.session.add(Presence(agent_id=agent_id, org=org, name=f"Agent {agent_id}"))
        db.session.flush()
        capacity = values.get("capacity", app.config["DEFAULT_CAPACITY"])
        spare = (app.config["DEFAULT_CAPACITY"] if capacity is None else capacity) - values.get("open_chats", 0)
        db.session.execute(update(Presence).where(Presence.agent_id.in_(ids)).values(
            **dict({"status": "online", "websocket_connected": True, "connections": 1, "spare": spare}, **values)))
        db.session.commit()
