"""Who is calling: token claims to identities, and the agents they provision (logins: accounts.py)."""
import functools
import re
import time
from dataclasses import dataclass
from types import SimpleNamespace

import jwt
from flask import current_app
from sqlalchemy import bindparam, delete, func, select, update

from ..dbtime import now
from ..errors import AgentDeactivated, Unauthorized
from ..extensions import db
from ..models import ROLES, Agent, AgentTeam, Presence
from ..schemas.base import text_problem
from .transitions import apply, changing, finish, insert_new, prepared

A, P, AT = Agent.__table__, Presence.__table__, AgentTeam.__table__

ORG = re.compile(r"[A-Za-z0-9_.:@+\-]{1,64}")
TEAM = ORG  # team ids follow the org's (and chat ids') rule
MAX_TEAMS = 20
SERVICE = "service"
MAX_AGENT_ID = 2**63 - 1
MAX_EXP = 221845392000  # 9000-01-01T00:00:00Z, the end of the instants the API takes
_KNOWN = "presence_known_agents"
QUERY_TOKEN_NAMES = ("token", "access_token", "jwt", "auth")
_KNOWN_MAX = 50_000


@dataclass(frozen=True)
class Identity:
    """The authenticated caller, as plain values; `expires_at` is the token's exp (epoch seconds).

    An agent's token names its agent (`agent_id`); a `service` token names the platform's client
    (`subject`) and has no agent, no presence and no teams.
    """

    agent_id: int | None
    name: str
    org: str
    role: str
    expires_at: float = float("inf")
    teams: tuple = ()
    subject: str = ""

    @property
    def is_supervisor(self):
        return self.role == "supervisor"

    @property
    def is_service(self):
        return self.role == SERVICE

    @property
    def reads_org(self):
        """Supervisors and the platform's backend read any agent of the org."""
        return self.role in ("supervisor", SERVICE)


def refuse_query_token(args, how):
    """Tokens travel in headers or the socket auth payload, never in URLs (they end up in logs)."""
    if any(name in args for name in QUERY_TOKEN_NAMES):
        raise Unauthorized(f"tokens in the query string are refused; {how}")


def bearer_token(header):
    """The token of an `Authorization: Bearer <token>` header."""
    parts = (header or "").split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise Unauthorized("missing or malformed Authorization header: expected 'Bearer <token>'")
    return parts[1]


def decode(token):
    """Verify a token (HS256, signature, exp, and aud/iss when configured); return the identity."""
    config = current_app.config
    identity = _verified(token, config["JWT_SECRET_KEY"], config["JWT_DECODE_AUDIENCE"], config["JWT_DECODE_ISSUER"])
    if expired(identity):
        raise Unauthorized("token has expired")
    return identity


@functools.lru_cache(maxsize=20_000)
def _verified(token, secret, audience, issuer):
    # An agent sends the same token all day: its signature and claims are checked once, then only its
    # exp (above). Refused tokens raise, and lru_cache keeps no exceptions.
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience=audience, issuer=issuer,
                            options={"require": ["exp"], "verify_aud": audience is not None})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token has expired") from None
    except jwt.MissingRequiredClaimError:
        raise Unauthorized("token must carry an exp claim") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"invalid token: {exc}") from None
    return from_claims(claims)


def expired(identity):
    """True once the identity's token has passed its exp."""
    return time.time() >= identity.expires_at


def from_claims(claims):
    """Validate decoded JWT claims and return the caller's identity."""
    if "exp" not in claims:
        raise Unauthorized("token must carry an exp claim")
    if not float(claims["exp"]) < MAX_EXP:  # later dates overflow the times an expiry is written as
        raise Unauthorized("token exp must be before the year 9000")
    org = claims.get("org", "default")
    if not isinstance(org, str) or not ORG.fullmatch(org):
        raise Unauthorized("token org must be 1-64 characters of letters, digits and _.:@+-")
    role = claims.get("role", "agent")
    if role not in (*ROLES, SERVICE):
        raise Unauthorized(f"token role must be one of {', '.join((*ROLES, SERVICE))}")
    sub = claims.get("sub")
    if role == SERVICE:
        if not isinstance(sub, str) or not 1 <= len(sub) <= 255 or text_problem(sub):
            raise Unauthorized("a service token's sub must name the platform's client in 1-255 characters")
        return Identity(None, sub, org, role, float(claims["exp"]), subject=sub)
    if not isinstance(sub, str) or not sub.isascii() or not sub.isdigit() or not 0 < int(sub) <= MAX_AGENT_ID:
        raise Unauthorized("token sub must be a positive integer agent id (at most 2^63-1)")
    name = claims.get("name", f"Agent {sub}")
    problem = name_problem(name)
    if problem:
        raise Unauthorized(f"token name {problem}")
    return Identity(int(sub), name.strip(), org, role, float(claims["exp"]), teams_claim(claims.get("teams", [])),
                    subject=sub)


def teams_claim(teams):
    """The `teams` claim as a sorted tuple of distinct team ids; a bad claim is a 401."""
    if not isinstance(teams, list) or len(teams) > MAX_TEAMS or not all(
            isinstance(team, str) and TEAM.fullmatch(team) for team in teams):
        raise Unauthorized(f"token teams must be a list of at most {MAX_TEAMS} team ids, each 1-64 characters "
                           "of letters, digits and _.:@+-")
    return tuple(sorted(set(teams)))


def name_problem(name):
    """Why `name` cannot be an agent's display name, or None."""
    if not isinstance(name, str) or not name.strip() or len(name) > 120:
        return "must be a non-empty string of at most 120 characters"
    return text_problem(name)


def ensure_agent(identity, force=False):
    """Create the agent of a first-seen token, or take a new display name, role or teams from it."""
    if identity.is_service:
        return  # the platform's backend is no agent
    known = current_app.extensions.setdefault(_KNOWN, {})
    key = (identity.org, identity.name, identity.role, identity.teams)
    if not force and known.get(identity.agent_id) == key:
        return
    this = {"b_agent": identity.agent_id, "b_org": identity.org, "b_name": identity.name, "b_role": identity.role,
            "b_teams": " ".join(identity.teams)}
    agent = db.session.execute(_agent(), this).first() or _provision(identity, this)
    if agent.org != identity.org:
        db.session.rollback()
        raise Unauthorized("token org does not match the agent's org")
    if agent.deactivated_at is not None:
        db.session.rollback()
        forget([identity.agent_id])
        raise AgentDeactivated("this agent has been deactivated")
    if (agent.name, agent.role) != (identity.name, identity.role):
        db.session.execute(_rename_agent(), this)
        db.session.execute(_rename_presence(), this)
    changed = _move_teams(identity, agent.teams) if agent.teams != this["b_teams"] else []
    finish(changed=changed)
    if len(known) >= _KNOWN_MAX:
        known.clear()
    known[identity.agent_id] = key


def _provision(identity, this):
    """First sight of an agent: its rows, as the token says (its teams are no change to announce)."""
    if not db.session.execute(_new_agent(), this).rowcount:
        # A concurrent first sight of the same agent inserts nothing more; both read the one row.
        db.session.execute(_new_presence(), this)
        return db.session.execute(_agent(), this).one()
    db.session.execute(_new_presence(), this)
    if identity.teams:
        db.session.execute(_new_team(), [{"b_org": identity.org, "b_team": team, "b_agent": identity.agent_id}
                                         for team in identity.teams])
    return SimpleNamespace(org=identity.org, name=identity.name, role=identity.role, teams=this["b_teams"],
                           deactivated_at=None)


def forget(agent_ids):
    """Drop agents from this process's cache of known agents: their next request is checked again."""
    known = current_app.extensions.get(_KNOWN, {})
    for agent_id in agent_ids:
        known.pop(agent_id, None)


def _move_teams(identity, old):
    """The agent's teams change: a change of the agent (reason profile), heard by old and new teams alike."""
    # The presence row first: its lock makes concurrent requests with a new claim take turns, and
    # the ones after the first find the teams moved already (a DELETE then INSERT of the team rows
    # racing another would otherwise keep both claims' teams).
    teams = " ".join(identity.teams)
    mine = (P.c.agent_id == identity.agent_id) & (P.c.org == identity.org) & P.c.teams.is_distinct_from(teams)
    rows = apply(changing(mine, {"teams": teams, "teams_changed_at": now()}, "profile", previous_teams=old),
                 actor=identity.agent_id)
    if rows:
        set_teams(identity.org, identity.agent_id, identity.teams)
    return rows


def set_teams(org, agent_id, teams):
    """The agent's team rows, as `teams` says (in the caller's transaction)."""
    db.session.execute(delete(AT).where(AT.c.agent_id == agent_id))
    if teams:
        db.session.execute(_new_team(), [{"b_org": org, "b_team": team, "b_agent": agent_id} for team in teams])


@prepared
def _new_team():
    return insert_new(AT, org=bindparam("b_org"), team=bindparam("b_team"), agent_id=bindparam("b_agent"))


@prepared
def _agent():
    return (select(A.c.org, A.c.name, A.c.role, A.c.deactivated_at, func.coalesce(P.c.teams, "").label("teams"))
            .select_from(A.outerjoin(P, P.c.agent_id == A.c.id)).where(A.c.id == bindparam("b_agent")))


@prepared
def _new_agent():
    return insert_new(A, id=bindparam("b_agent"), org=bindparam("b_org"), name=bindparam("b_name"),
                      role=bindparam("b_role"), created_at=now())


@prepared
def _new_presence():
    return insert_new(P, agent_id=bindparam("b_agent"), org=bindparam("b_org"), name=bindparam("b_name"),
                      teams=bindparam("b_teams"))


@prepared
def _rename_agent():
    return update(A).where(A.c.id == bindparam("b_agent")).values(name=bindparam("b_name"), role=bindparam("b_role"))


@prepared
def _rename_presence():
    return update(P).where(P.c.agent_id == bindparam("b_agent")).values(name=bindparam("b_name"))
