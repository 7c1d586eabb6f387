"""Hearing: since when the service has heard agents without a gap, and when the sweep last ran.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None



def upgrade():
    hearing = op.create_table(
        "hearing",
        sa.Column("id", sa.Integer(), autoincrement=False, primary_key=True),
        sa.Column("heard_since", sa.DateTime(), nullable=False),
        sa.Column("swept_at", sa.DateTime(), nullable=True),
    )
    # Heard since forever, never swept: the first sweep starts the clock without counting a gap.
    op.bulk_insert(hearing, [{"id": 1, "heard_since": datetime(1970, 1, 1), "swept_at": None}])


def downgrade():
    op.drop_table("hearing")
