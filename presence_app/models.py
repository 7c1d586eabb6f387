"""Tables of the service; models mutate rows, they never commit or emit."""
from datetime import datetime

from flask import current_app
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from .dbtime import now
from .extensions import db

STATUSES = ("online", "offline", "busy", "away")
REASONS = ("manual", "timeout", "resumed", "connected", "disconnected", "supervisor", "idle", "active", "expired",
           "profile", "deactivated")
ROLES = ("agent", "supervisor")  # of agents; a token may also be a platform's `service`
TEAMS_LENGTH = 20 * 65  # at most 20 team ids of at most 64 characters, space-separated
# Written exactly as the candidates index's predicate, so that PostgreSQL and SQLite use it.
ASSIGNABLE = "active AND status = 'online' AND websocket_connected AND spare > 0"


def default_spare():
    """A new agent holds no chat: its spare capacity is the configured default capacity."""
    return current_app.config["DEFAULT_CAPACITY"]


class Agent(db.Model):
    """A support agent, provisioned from token claims or by the CLI."""

    __tablename__ = "agents"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    org: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now())
    # Deactivated agents leave rosters, counts and candidates; their tokens are refused.
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        # Each web process looks every second for agents deactivated lately, to drop them from its cache.
        Index("ix_agents_deactivated", "deactivated_at",
              postgresql_where=text("deactivated_at IS NOT NULL"), sqlite_where=text("deactivated_at IS NOT NULL")),
    )


class Presence(db.Model):
    """One agent's presence; every transition is one conditional UPDATE of this row."""

    __tablename__ = "presence"
    agent_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    # org and name are copied from agents so that UPDATE ... RETURNING alone carries an event.
    org: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default="offline")
    status_message: Mapped[str] = mapped_column(String(140), default="")
    previous_status: Mapped[str] = mapped_column(String(16), default="offline")
    status_changed_at: Mapped[datetime] = mapped_column(DateTime, default=now())
    last_heartbeat: Mapped[datetime | None] = mapped_column(DateTime)
    last_seen: Mapped[datetime] = mapped_column(DateTime, default=now())
    connections: Mapped[int] = mapped_column(Integer, default=0)
    websocket_connected: Mapped[bool] = mapped_column(Boolean, default=False)
    disconnected_at: Mapped[datetime | None] = mapped_column(DateTime)
    timed_out: Mapped[bool] = mapped_column(Boolean, default=False)
    resume_status: Mapped[str | None] = mapped_column(String(16))
    resume_message: Mapped[str | None] = mapped_column(String(140))
    change_reason: Mapped[str] = mapped_column(String(16), default="manual")
    changed_at: Mapped[datetime] = mapped_column(DateTime, default=now())
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    reason_code: Mapped[str | None] = mapped_column(String(32))
    resume_reason_code: Mapped[str | None] = mapped_column(String(32))
    # When the current reason code was applied; its max_minutes counts from here, announced once.
    code_since: Mapped[datetime | None] = mapped_column(DateTime)
    overrun_announced: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # An expiring status: at status_until the agent returns to the revert_* state (reason expired).
    status_until: Mapped[datetime | None] = mapped_column(DateTime)
    revert_status: Mapped[str | None] = mapped_column(String(16))
    revert_message: Mapped[str | None] = mapped_column(String(140))
    revert_reason_code: Mapped[str | None] = mapped_column(String(32))
    # Away because the console reported idleness: only such an away returns to online on activity.
    idle_away: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The agent's teams (token claim), sorted, space-separated; agent_teams indexes them.
    teams: Mapped[str] = mapped_column(String(TEAMS_LENGTH), default="", server_default=text("''"))
    teams_changed_at: Mapped[datetime | None] = mapped_column(DateTime)  # incremental sync: who left a team
    # When anything a console shows last changed (a broadcast change, load, teams): incremental sync reads it.
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now(), server_default=func.current_timestamp())
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Routing: chats open now, how many it may hold (null: DEFAULT_CAPACITY), when it was last given one.
    open_chats: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    capacity: Mapped[int | None] = mapped_column(Integer)
    last_assigned_at: Mapped[datetime | None] = mapped_column(DateTime)
    # coalesce(capacity, DEFAULT_CAPACITY) - open_chats, kept by every write of either (and at a web
    # process's start, for a changed default): a column, so that an index serves the candidates' order.
    spare: Mapped[int] = mapped_column(Integer, default=default_spare, server_default=text("0"))

    __table_args__ = (
        Index("ix_presence_org_status", "org", "status"),
        Index("ix_presence_org_updated", "org", "updated_at"),
        # The sweep reads only candidates: agents not offline, with no socket, oldest first.
        Index("ix_presence_expiry", "last_seen",
              postgresql_where=text("status <> 'offline' AND connections = 0"),
              sqlite_where=text("status <> 'offline' AND connections = 0")),
        Index("ix_presence_unsettled", "disconnected_at",
              postgresql_where=text("websocket_connected AND connections = 0"),
              sqlite_where=text("websocket_connected AND connections = 0")),
        Index("ix_presence_status_until", "status_until",
              postgresql_where=text("status_until IS NOT NULL"), sqlite_where=text("status_until IS NOT NULL")),
        Index("ix_presence_overrun", "code_since",
              postgresql_where=text("reason_code IS NOT NULL AND NOT overrun_announced"),
              sqlite_where=text("reason_code IS NOT NULL AND NOT overrun_announced")),
    )


# Routing candidates in their order: most spare capacity, never assigned, longest since the last
# assignment, agent id. (SQLite sorts nulls first by itself, and refuses NULLS FIRST in an index:
# its migration leaves the words out.)
Index("ix_presence_candidates", Presence.org, Presence.spare.desc(), Presence.last_assigned_at.asc().nulls_first(),
      Presence.agent_id, postgresql_where=text(ASSIGNABLE), sqlite_where=text(ASSIGNABLE))


class AgentTeam(db.Model):
    """One team of an agent, so that rosters, counts and candidates of a team are read by index."""

    __tablename__ = "agent_teams"
    org: Mapped[str] = mapped_column(String(64), primary_key=True)
    team: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)

    __table_args__ = (Index("ix_agent_teams_agent", "agent_id"),)


class ChatAssignment(db.Model):
    """A chat given to an agent by routing, and when it was released: one row per assignment, kept."""

    __tablename__ = "chat_assignments"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    org: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    agent_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("agents.id", ondelete="CASCADE"))
    team: Mapped[str | None] = mapped_column(String(64))
    assigned_at: Mapped[datetime] = mapped_column(DateTime)
    released_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        # One open assignment per chat: a second assign of it, however concurrent, finds the first.
        Index("uq_chat_assignments_open", "org", "chat_id", unique=True,
              postgresql_where=text("released_at IS NULL"), sqlite_where=text("released_at IS NULL")),
        # Reports of chats per agent.
        Index("ix_chat_assignments_agent", "agent_id", "assigned_at"),
    )


class PresenceChange(db.Model):
    """The ledger: one row per broadcast change, numbered by the agent's seq."""

    __tablename__ = "presence_changes"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    agent_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("agents.id", ondelete="CASCADE"))
    org: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(140))
    websocket_connected: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime)
    reason_code: Mapped[str | None] = mapped_column(String(32))
    # Who made the change: the agent, its supervisor, or null for the system (docs/supervisors.md, "Audit").
    actor_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        # A second announcement of one transition would need a second row with the same seq.
        # On PostgreSQL it covers what the report reads, so the report's window needs no table access.
        UniqueConstraint("agent_id", "seq", name="uq_presence_changes_agent_seq",
                         postgresql_include=["at", "to_status", "websocket_connected", "reason_code"]),
        # Reports find each agent's last change before a range, and its changes in the range.
        Index("ix_presence_changes_agent_at", "agent_id", "at", "seq"),
    )


class ReportDay(db.Model):
    """One closed UTC day of one agent: seconds in one state (time offline without a code is the rest)."""

    __tablename__ = "report_days"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    agent_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("agents.id", ondelete="CASCADE"))
    org: Mapped[str] = mapped_column(String(64))
    day: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16))
    connected: Mapped[bool] = mapped_column(Boolean)
    reason_code: Mapped[str | None] = mapped_column(String(32))
    seconds: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_report_days_org_day", "org", "day"),
        Index("ix_report_days_agent_day", "agent_id", "day"),
    )


class ReportRollup(db.Model):
    """One row: the last UTC day whose report days are written (every earlier day is too)."""

    __tablename__ = "report_rollup"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    through: Mapped[datetime | None] = mapped_column(DateTime)


class ReasonCode(db.Model):
    """A reason code an org's supervisors defined, for the statuses it may go with."""

    __tablename__ = "reason_codes"
    org: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(64))
    statuses: Mapped[str] = mapped_column(String(32))  # comma-separated
    max_minutes: Mapped[int | None] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)


class Connection(db.Model):
    """One live Socket.IO connection, owned by the web process that holds it."""

    __tablename__ = "connections"
    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    process_id: Mapped[str] = mapped_column(String(64), index=True)
    connected_at: Mapped[datetime] = mapped_column(DateTime, default=now())


class WebProcess(db.Model):
    """A running web process; it beats so that its sockets can be reaped if it dies."""

    __tablename__ = "web_processes"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=now())
    beat_at: Mapped[datetime] = mapped_column(DateTime, default=now(), index=True)


class TypingIndicator(db.Model):
    """An agent typing in a chat; the server owns it and expires it."""

    __tablename__ = "typing_indicators"
    agent_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    org: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(DateTime, default=now())
    renewed_at: Mapped[datetime] = mapped_column(DateTime, default=now(), index=True)


class Hearing(db.Model):
    """One row: since when the service has heard agents without a gap; when the sweep and the reaper last ran."""

    __tablename__ = "hearing"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    heard_since: Mapped[datetime] = mapped_column(DateTime)
    swept_at: Mapped[datetime | None] = mapped_column(DateTime)
    reaped_at: Mapped[datetime | None] = mapped_column(DateTime)
    reaping_since: Mapped[datetime | None] = mapped_column(DateTime)
