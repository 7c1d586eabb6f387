"""Standalone accounts: agents with a password (made by the CLI) and their logins, for a platform without its own."""
import functools
import secrets

from flask import current_app
from flask_jwt_extended import create_access_token
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import AgentDeactivated, Unauthorized, ValidationError
from ..extensions import db
from ..models import ROLES, Agent, Presence
from .identity import MAX_TEAMS, ORG, TEAM, name_problem, set_teams
from .transitions import take_turn


def _create(agent_id, org, name, role, email=None, password=None, teams=()):
    db.session.add(Agent(id=agent_id, org=org, name=name, role=role, email=email,
                         password_hash=generate_password_hash(password) if password else None))
    db.session.flush()
    db.session.add(Presence(agent_id=agent_id, org=org, name=name, teams=" ".join(teams)))
    db.session.flush()
    set_teams(org, agent_id, teams)


def create_agent(email, name, password, org="default", role="agent", agent_id=None, teams=()):
    """Create an agent with a password for standalone login (its logins carry `teams`); return its id."""
    if len(teams) > MAX_TEAMS or not all(isinstance(team, str) and TEAM.fullmatch(team) for team in teams):
        raise ValidationError(f"teams must be at most {MAX_TEAMS} team ids, each 1-64 characters of "
                              "letters, digits and _.:@+-")
    if not ORG.fullmatch(org):
        raise ValidationError("org must be 1-64 characters of letters, digits and _.:@+-")
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise ValidationError("password must be at least 8 characters")
    problem = name_problem(name)
    if problem:
        raise ValidationError(f"name {problem}")
    email = email.strip().lower()
    take_turn("agents")  # two creations at once would both read the same free email and id
    if db.session.scalar(select(Agent.id).where(Agent.email == email)) is not None:
        raise ValidationError(f"an agent with email {email} exists already")
    if agent_id is None:
        agent_id = (db.session.scalar(select(func.max(Agent.id))) or 0) + 1
    elif db.session.get(Agent, agent_id) is not None:
        raise ValidationError(f"agent {agent_id} exists already")
    _create(agent_id, org, name.strip(), role, email=email, password=password, teams=tuple(sorted(set(teams))))
    db.session.commit()
    return agent_id


@functools.cache
def _dummy_hash():
    return generate_password_hash(secrets.token_urlsafe(16))


def login(email, password):
    """Check a standalone login and return a signed token with its lifetime."""
    agent = db.session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
    # Hash even for an unknown email, so the answer's timing does not tell which emails exist.
    stored = agent.password_hash if agent is not None and agent.password_hash else _dummy_hash()
    if not check_password_hash(stored, password) or agent is None or not agent.password_hash:
        raise Unauthorized("wrong email or password")
    if agent.deactivated_at is not None:
        raise AgentDeactivated("this agent has been deactivated")
    claims = {"name": agent.name, "org": agent.org, "role": agent.role}
    # The teams the agent has now (a token without them would take the agent out of its teams).
    teams = db.session.scalar(select(Presence.teams).where(Presence.agent_id == agent.id))
    if teams:
        claims["teams"] = teams.split()
    token = create_access_token(identity=str(agent.id), additional_claims=claims)
    ttl = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return {"access_token": token, "token_type": "Bearer", "expires_in": int(ttl),
            "agent_id": agent.id, "name": agent.name, "org": agent.org, "role": agent.role}
