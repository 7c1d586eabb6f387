"""Routing and agents who leave: spare capacity and the candidates index, chat assignments, deactivations.

`spare` is coalesce(capacity, DEFAULT_CAPACITY) - open_chats, filled here with the documented
default (3); a web process that starts with another DEFAULT_CAPACITY corrects the rows that follow it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ASSIGNABLE = "active AND status = 'online' AND websocket_connected AND spare > 0"
DEFAULT_CAPACITY = 3


def upgrade():
    op.add_column("presence", sa.Column("spare", sa.Integer(), nullable=False, server_default=sa.text("0")))
    op.execute(f"UPDATE presence SET spare = coalesce(capacity, {DEFAULT_CAPACITY}) - open_chats")
    # SQLite sorts nulls first by itself, and refuses NULLS FIRST in an index.
    assigned = sa.column("last_assigned_at")
    if op.get_bind().dialect.name == "postgresql":
        assigned = assigned.asc().nulls_first()
    op.create_index("ix_presence_candidates", "presence", ["org", sa.column("spare").desc(), assigned, "agent_id"],
                    postgresql_where=sa.text(ASSIGNABLE), sqlite_where=sa.text(ASSIGNABLE))
    op.create_index("ix_agents_deactivated", "agents", ["deactivated_at"],
                    postgresql_where=sa.text("deactivated_at IS NOT NULL"),
                    sqlite_where=sa.text("deactivated_at IS NOT NULL"))
    op.create_table(
        "chat_assignments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.BigInteger(), sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("team", sa.String(64), nullable=True),
        sa.Column("assigned_at", sa.DateTime(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=True),
    )
    op.create_index("uq_chat_assignments_open", "chat_assignments", ["org", "chat_id"], unique=True,
                    postgresql_where=sa.text("released_at IS NULL"), sqlite_where=sa.text("released_at IS NULL"))
    op.create_index("ix_chat_assignments_agent", "chat_assignments", ["agent_id", "assigned_at"])


def downgrade():
    op.drop_index("ix_chat_assignments_agent", table_name="chat_assignments")
    op.drop_index("uq_chat_assignments_open", table_name="chat_assignments")
    op.drop_table("chat_assignments")
    op.drop_index("ix_agents_deactivated", table_name="agents")
    op.drop_index("ix_presence_candidates", table_name="presence")
    op.drop_column("presence", "spare")
