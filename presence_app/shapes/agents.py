"""Shapes of agents: whether one is active (deactivated agents left the org)."""
from .base import Shape, bool_, int_, time_


class AgentState(Shape):
    """DELETE /agents/<agent_id>/ and POST /agents/<agent_id>/reactivate/."""

    agent_id = int_(1)
    active = bool_()
    deactivated_at = time_(nullable=True)
