"""Report days: each closed UTC day's time in each state per agent, so long reports read days, not changes.

The table starts empty and `through` null: the periodic roll-up fills every day of the existing
ledger, oldest first, a batch of days per pass. Until it has, reports read the ledger.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "report_days",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("agent_id", sa.BigInteger(), sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
        sa.Column("org", sa.String(64), nullable=False),
        sa.Column("day", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("connected", sa.Boolean(), nullable=False),
        sa.Column("reason_code", sa.String(32), nullable=True),
        sa.Column("seconds", sa.Float(), nullable=False),
    )
    op.create_index("ix_report_days_org_day", "report_days", ["org", "day"])
    op.create_index("ix_report_days_agent_day", "report_days", ["agent_id", "day"])
    rollup = op.create_table(
        "report_rollup",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("through", sa.DateTime(), nullable=True),
    )
    op.bulk_insert(rollup, [{"id": 1, "through": None}])


def downgrade():
    op.drop_table("report_rollup")
    op.drop_index("ix_report_days_agent_day", table_name="report_days")
    op.drop_index("ix_report_days_org_day", table_name="report_days")
    op.drop_table("report_days")
