"""The reaper's own hearing: when it last ran, and since when it has run without a gap.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    # Never reaped: the first pass starts the clock and takes nobody for dead.
    with op.batch_alter_table("hearing") as batch:
        batch.add_column(sa.Column("reaped_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("reaping_since", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("hearing") as batch:
        batch.drop_column("reaping_since")
        batch.drop_column("reaped_at")
