"""Large orgs and the platform's agents: teams, deactivation, load columns, and the stamp incremental sync reads.

Existing agents get no teams, stay active, hold no chats (capacity null: DEFAULT_CAPACITY), and
their `updated_at` starts at their last broadcast change.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TEAMS_LENGTH = 20 * 65
PRESENCE_COLUMNS = (
    sa.Column("teams", sa.String(TEAMS_LENGTH), nullable=False, server_default=sa.text("''")),
    sa.Column("teams_changed_at", sa.DateTime(), nullable=True),
    sa.Column("updated_at", sa.DateTime(), nullable=False, server_default=sa.func.current_timestamp()),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("open_chats", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("capacity", sa.Integer(), nullable=True),
    sa.Column("last_assigned_at", sa.DateTime(), nullable=True),
)


def upgrade():
    op.add_column("agents", sa.Column("deactivated_at", sa.DateTime(), nullable=True))
    for column in PRESENCE_COLUMNS:
        op.add_column("presence", column)
    op.execute("UPDATE presence SET updated_at = changed_at")
    op.create_index("ix_presence_org_updated", "presence", ["org", "updated_at"])
    op.create_table(
        "agent_teams",
        sa.Column("org", sa.String(64), primary_key=True),
        sa.Column("team", sa.String(64), primary_key=True),
        sa.Column("agent_id", sa.BigInteger(), sa.ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_agent_teams_agent", "agent_teams", ["agent_id"])


def downgrade():
    op.drop_index("ix_agent_teams_agent", table_name="agent_teams")
    op.drop_table("agent_teams")
    op.drop_index("ix_presence_org_updated", table_name="presence")
    for column in reversed(PRESENCE_COLUMNS):
        op.drop_column("presence", column.name)
    op.drop_column("agents", "deactivated_at")
