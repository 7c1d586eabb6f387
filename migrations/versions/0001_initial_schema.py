"""Initial schema: agents, presence, its ledger, live sockets, web processes, typing.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

EXPIRY_CANDIDATE = sa.text("status <> 'offline' AND connections = 0")
UNSETTLED = sa.text("websocket_connected AND connections = 0")


def _agent_fk():
    return sa.ForeignKey("agents.id", ondelete="CASCADE")


def upgrade():
    op.create_table(
        "agents",
        sa.Column("id", sa.BigInteger(), autoincrement=False, primary_key=True),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("email", sa.String(254), nullable=True, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_agents_org", "agents", ["org"])

    op.create_table(
        "presence",
        sa.Column("agent_id", sa.BigInteger(), _agent_fk(), primary_key=True),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_message", sa.String(140), nullable=False),
        sa.Column("previous_status", sa.String(16), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(), nullable=False),
        sa.Column("last_heartbeat", sa.DateTime(), nullable=True),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("connections", sa.Integer(), nullable=False),
        sa.Column("websocket_connected", sa.Boolean(), nullable=False),
        sa.Column("disconnected_at", sa.DateTime(), nullable=True),
        sa.Column("timed_out", sa.Boolean(), nullable=False),
        sa.Column("resume_status", sa.String(16), nullable=True),
        sa.Column("resume_message", sa.String(140), nullable=True),
        sa.Column("change_reason", sa.String(16), nullable=False),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_presence_org_status", "presence", ["org", "status"])
    # Partial indexes: the sweeps read only their candidates, not every agent.
    op.create_index("ix_presence_expiry", "presence", ["last_seen"],
                    postgresql_where=EXPIRY_CANDIDATE, sqlite_where=EXPIRY_CANDIDATE)
    op.create_index("ix_presence_unsettled", "presence", ["disconnected_at"],
                    postgresql_where=UNSETTLED, sqlite_where=UNSETTLED)

    op.create_table(
        "presence_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("agent_id", sa.BigInteger(), _agent_fk(), nullable=False),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=False),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("message", sa.String(140), nullable=False),
        sa.Column("websocket_connected", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("agent_id", "seq", name="uq_presence_changes_agent_seq"),
    )

    op.create_table(
        "web_processes",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("beat_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_web_processes_beat_at", "web_processes", ["beat_at"])

    op.create_table(
        "connections",
        sa.Column("sid", sa.String(64), primary_key=True),
        sa.Column("agent_id", sa.BigInteger(), _agent_fk(), nullable=False),
        sa.Column("process_id", sa.String(64), nullable=False),
        sa.Column("connected_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_connections_agent_id", "connections", ["agent_id"])
    op.create_index("ix_connections_process_id", "connections", ["process_id"])

    op.create_table(
        "typing_indicators",
        sa.Column("agent_id", sa.BigInteger(), _agent_fk(), primary_key=True),
        sa.Column("chat_id", sa.String(64), primary_key=True),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("renewed_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_typing_indicators_renewed_at", "typing_indicators", ["renewed_at"])


def downgrade():
    for table in ("typing_indicators", "connections", "web_processes", "presence_changes", "presence", "agents"):
        op.drop_table(table)
