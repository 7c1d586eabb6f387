"""Presence endpoints: mine, set-status, heartbeat, the org roster and one agent."""
from flask import request

from ..schemas import Empty, RosterQuery, StatusIn, load, load_json
from ..services import presence
from . import bp, caller


@bp.get("/presence/me/")
def me():
    """My presence."""
    return presence.get(caller().org, caller().agent_id)


@bp.post("/presence/set-status/")
def set_status():
    """Set my status and optional message."""
    body = load_json(StatusIn, request.get_data())
    return presence.set_status(caller(), body["status"], body["message"])


@bp.post("/presence/heartbeat/")
def heartbeat():
    """I am alive; answers my presence."""
    load_json(Empty, request.get_data())
    return presence.heartbeat(caller())[0]


@bp.get("/presence/")
def roster():
    """The presence of my org's agents, filtered by status and availability."""
    query = load(RosterQuery, request.args.to_dict())
    agents, server_time = presence.roster(caller().org, query.get("status"), query.get("available"))
    return {"agents": agents, "count": len(agents), "server_time": server_time}


@bp.get("/presence/<agent_id:agent_id>/")
def one(agent_id):
    """One agent of my org."""
    return presence.get(caller().org, agent_id)


@bp.post("/presence/<agent_id:agent_id>/set-status/")
def set_agent_status(agent_id):
    """A supervisor sets another agent's status (reason supervisor)."""
    body = load_json(StatusIn, request.get_data())
    return presence.set_status(caller(), body["status"], body["message"], agent_id=agent_id)
