"""Who hears what: a socket's interest (the whole org, or teams and agents), and the rooms a change goes to.

A change of an agent goes to its org's room, the rooms of the teams it belonged to before and after
the change, and its watch room. A socket hears it when its interest names one of those rooms:
a whole-org socket names the org's room; a subscribed one names its teams' rooms and the watch
rooms of its agents (and of its own agent: a socket always hears its own agent).
"""
from dataclasses import dataclass

from .errors import LimitExceeded
from .keys import key

MAX_TEAMS = 20
MAX_AGENT_IDS = 500


def org_room(org):
    """Room of an org's whole-org v1 sockets; also the first room of every change, naming its org."""
    return key("org", org)


def team_room(org, team):
    """Room of the v1 sockets subscribed to a team of an org."""
    return key("team", org, team)


def watch_room(org, agent_id):
    """Room of the v1 sockets that watch one agent (by id, or their own)."""
    return key("watch", org, agent_id)


def change_rooms(org, agent_id, teams, previous_teams=()):
    """Every room a change of an agent goes to: its org's, its teams' before and after, its watch room."""
    return [org_room(org), *(team_room(org, team) for team in sorted(set(teams) | set(previous_teams))),
            watch_room(org, agent_id)]


@dataclass(frozen=True)
class Interest:
    """What one socket hears: the whole org (`teams` and `agent_ids` None) or those teams and agents."""

    org: str
    teams: frozenset = None
    agent_ids: frozenset = None

    @property
    def whole_org(self):
        return self.teams is None

    def signature(self):
        """The rooms this interest names, besides its own agent's: sockets alike share batches and rosters."""
        if self.whole_org:
            return frozenset((org_room(self.org),))
        return frozenset([*(team_room(self.org, t) for t in self.teams),
                          *(watch_room(self.org, a) for a in self.agent_ids)])

    def rooms(self, own_agent_id):
        """The Socket.IO rooms a v1 socket of this interest joins."""
        return sorted(self.signature() | {watch_room(self.org, own_agent_id)})

    def wire(self):
        """The subscription as a client wrote it (sorted), or None for the whole org."""
        if self.whole_org:
            return None
        return {"teams": sorted(self.teams), "agent_ids": sorted(self.agent_ids)}


def interest(org, subscription):
    """The interest of a validated subscription ({teams, agent_ids} or None / {} for the whole org).

    Over the limits (MAX_TEAMS teams, MAX_AGENT_IDS ids) it is refused with limit_exceeded.
    """
    teams, agent_ids = (subscription or {}).get("teams"), (subscription or {}).get("agent_ids")
    if teams is None and agent_ids is None:
        return Interest(org)
    teams, agent_ids = frozenset(teams or ()), frozenset(agent_ids or ())
    if len(teams) > MAX_TEAMS or len(agent_ids) > MAX_AGENT_IDS:
        raise LimitExceeded(f"a subscription names at most {MAX_TEAMS} teams and {MAX_AGENT_IDS} agent ids")
    return Interest(org, teams, agent_ids)
