"""Agents who leave: deactivate and reactivate (supervisors and the platform's backend)."""
from flask import request

from ..openapi import documented
from ..schemas.base import Empty, load_json
from ..services import agents
from ..shapes.agents import AgentState
from . import bp, manager


@bp.delete("/agents/<agent_id:agent_id>/")
@documented(AgentState, errors=(403,))
def deactivate(agent_id):
    """Deactivate an agent: its sockets close, it leaves rosters and candidates, its tokens are refused."""
    return agents.deactivate(manager(), agent_id)


@bp.post("/agents/<agent_id:agent_id>/reactivate/")
@documented(AgentState, body=Empty, errors=(403,))
def reactivate(agent_id):
    """Undo a deactivation: the agent is back, offline, and its tokens work again."""
    actor = manager()
    load_json(Empty, request.get_data())
    return agents.reactivate(actor, agent_id)
