"""Presence endpoints: mine, set-status, heartbeat, activity, the org roster and one agent."""
from flask import current_app, request

from ..openapi import documented
from ..schemas.base import Empty, load, load_json
from ..schemas.presence import ActivityIn, RosterQuery, StatusIn
from ..services import presence, rosters
from ..shapes import base as shapes_base, presence as shapes
from . import agent, bp, caller


@bp.get("/presence/me/")
@documented(shapes.Presence)
def me():
    """My presence."""
    return presence.mine(agent())


@bp.post("/presence/set-status/")
@documented(shapes.Presence, body=StatusIn)
def set_status():
    """Set my status and optional message."""
    return presence.set_status(agent(), **load_json(StatusIn, request.get_data()))


@bp.post("/presence/heartbeat/")
@documented(shapes.Presence, body=Empty)
def heartbeat():
    """I am alive; answers my presence."""
    mine = agent()
    load_json(Empty, request.get_data())
    return presence.heartbeat(mine)[0]


@bp.get("/presence/")
@documented(shapes.Roster, query=RosterQuery)
def roster():
    """The presence of my org's agents, filtered by status and availability."""
    query = load(RosterQuery, request.args.to_dict())
    agents, server_time, _cursor = rosters.roster(caller().org, query.get("status"), query.get("available"),
                                                  query.get("team"))
    return {"agents": agents, "count": len(agents), "server_time": server_time}


@bp.get("/presence/counts/")
@documented(shapes.Counts, query=Empty)
def counts():
    """How many agents of my org (and of each of its teams) are online, busy, away, offline, available, connected."""
    load(Empty, request.args.to_dict())
    return rosters.counts(caller().org)


@bp.get("/presence/<agent_id:agent_id>/")
@documented(shapes.Presence)
def one(agent_id):
    """One agent of my org."""
    return presence.get(caller().org, agent_id)


@bp.post("/presence/<agent_id:agent_id>/set-status/")
@documented(shapes.Presence, body=StatusIn, errors=(403,))
def set_agent_status(agent_id):
    """A supervisor sets another agent's status (reason supervisor)."""
    actor = presence.may_set(caller(), agent_id)
    return presence.set_status(actor, agent_id=agent_id, **load_json(StatusIn, request.get_data()))


@bp.post("/presence/activity/")
@documented(shapes.Presence, body=ActivityIn)
def activity():
    """My console reports idle (true) or active (false); answers my presence."""
    return presence.activity(agent(), load_json(ActivityIn, request.get_data())["idle"])


@bp.get("/settings/")
@documented(shapes_base.Settings)
def settings():
    """What a console needs to know of this service's configuration."""
    return {"idle_away_seconds": current_app.config["IDLE_AWAY_SECONDS"]}
