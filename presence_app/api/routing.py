"""Routing endpoints for the platform's backend (and supervisors): load, candidates, assign, release."""
from flask import request

from ..openapi import documented
from ..schemas.base import load, load_json
from ..schemas.routing import AssignIn, CandidatesQuery, LoadIn, ReleaseIn
from ..services import routing
from ..shapes.presence import Presence
from ..shapes.routing import Assigned, Candidates, Released
from . import bp, manager


@bp.put("/presence/<agent_id:agent_id>/load/")
@documented(Presence, body=LoadIn, errors=(403,))
def set_load(agent_id):
    """Set an agent's open chats and/or capacity (null capacity: DEFAULT_CAPACITY)."""
    actor = manager()
    return routing.set_load(actor.org, agent_id, **load_json(LoadIn, request.get_data()))


@bp.get("/routing/candidates/")
@documented(Candidates, query=CandidatesQuery, errors=(403,))
def candidates():
    """Agents available for assignment: most spare capacity, longest since their last assignment, id."""
    actor = manager()
    agents, server_time = routing.candidates(actor.org, **load(CandidatesQuery, request.args.to_dict()))
    return {"agents": agents, "server_time": server_time}


@bp.post("/routing/assign/")
@documented(Assigned, body=AssignIn, errors=(403, 404, 409))
def assign():
    """Assign a chat to the first candidate (or the named agent); a repeat answers the same agent."""
    actor = manager()
    return routing.assign(actor.org, **load_json(AssignIn, request.get_data()))


@bp.post("/routing/release/")
@documented(Released, body=ReleaseIn, errors=(403, 404))
def release():
    """Release a chat: one less open chat for its agent (released false on a repeat)."""
    actor = manager()
    return routing.release(actor.org, **load_json(ReleaseIn, request.get_data()))
