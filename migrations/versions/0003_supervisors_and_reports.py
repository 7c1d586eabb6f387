"""Supervisors and reports: who made each change, reason codes, expiring statuses, auto-away.

Existing ledger rows keep a null actor_id and reason_code (who made them was not recorded).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

EXPIRING = sa.text("status_until IS NOT NULL")
OVERRUN_PENDING = sa.text("reason_code IS NOT NULL AND NOT overrun_announced")
PRESENCE_COLUMNS = (
    ("reason_code", sa.String(32)),
    ("resume_reason_code", sa.String(32)),
    ("code_since", sa.DateTime()),
    ("status_until", sa.DateTime()),
    ("revert_status", sa.String(16)),
    ("revert_message", sa.String(140)),
    ("revert_reason_code", sa.String(32)),
)
FLAGS = ("overrun_announced", "idle_away")
UNIQUE_SEQ = "uq_presence_changes_agent_seq"
# PostgreSQL: the report's window reads each agent's changes in seq order from this index alone.
COVERED = ["at", "to_status", "websocket_connected", "reason_code"]


def _postgresql():
    return op.get_bind().dialect.name == "postgresql"


def upgrade():
    op.add_column("presence_changes", sa.Column("reason_code", sa.String(32), nullable=True))
    op.add_column("presence_changes", sa.Column("actor_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_presence_changes_agent_at", "presence_changes", ["agent_id", "at", "seq"])
    if _postgresql():
        op.drop_constraint(UNIQUE_SEQ, "presence_changes", type_="unique")
        op.execute(f"ALTER TABLE presence_changes ADD CONSTRAINT {UNIQUE_SEQ} UNIQUE (agent_id, seq) "
                   f"INCLUDE ({', '.join(COVERED)})")

    for name, type_ in PRESENCE_COLUMNS:
        op.add_column("presence", sa.Column(name, type_, nullable=True))
    for name in FLAGS:
        op.add_column("presence", sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_presence_status_until", "presence", ["status_until"],
                    postgresql_where=EXPIRING, sqlite_where=EXPIRING)
    op.create_index("ix_presence_overrun", "presence", ["code_since"],
                    postgresql_where=OVERRUN_PENDING, sqlite_where=OVERRUN_PENDING)

    op.create_table(
        "reason_codes",
        sa.Column("org", sa.String(64), primary_key=True),
        sa.Column("code", sa.String(32), primary_key=True),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("statuses", sa.String(32), nullable=False),
        sa.Column("max_minutes", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
    )


def downgrade():
    # Indexes first: a column is dropped only when no index names it (SQLite 3.35+ refuses otherwise).
    op.drop_table("reason_codes")
    op.drop_index("ix_presence_overrun", table_name="presence")
    op.drop_index("ix_presence_status_until", table_name="presence")
    for name in (*FLAGS, *(name for name, _ in PRESENCE_COLUMNS)):
        op.drop_column("presence", name)
    op.drop_index("ix_presence_changes_agent_at", table_name="presence_changes")
    if _postgresql():
        op.drop_constraint(UNIQUE_SEQ, "presence_changes", type_="unique")
        op.create_unique_constraint(UNIQUE_SEQ, "presence_changes", ["agent_id", "seq"])
    op.drop_column("presence_changes", "actor_id")
    op.drop_column("presence_changes", "reason_code")
