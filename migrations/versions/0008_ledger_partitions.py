"""Ledger lifecycle: on PostgreSQL the ledger becomes range-partitioned by month (its rows kept).

A partition per month that holds rows, plus this month and the next; a default partition for rows
outside every month. A partitioned table's unique keys must contain the partition key: the
primary key becomes (id, at) and the (agent_id, seq) key (agent_id, seq, at), still covering the
report (seq is numbered by the one conditional UPDATE of presence, which is what keeps it unique).
The worker's keep_ledger job creates months ahead and drops them past LEDGER_RETENTION_DAYS.
SQLite keeps one table: nothing changes there.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""
from datetime import timedelta

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OLD = "presence_changes_unpartitioned"
REPORT_COLUMNS = "to_status, websocket_connected, reason_code"


def _month(moment):
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # Index-backed names are the schema's: the old table gives them up before the new one takes them.
    op.execute(f"ALTER TABLE presence_changes RENAME TO {OLD}")
    op.execute(f"ALTER TABLE {OLD} RENAME CONSTRAINT presence_changes_pkey TO {OLD}_pkey")
    op.execute(f"ALTER TABLE {OLD} RENAME CONSTRAINT uq_presence_changes_agent_seq TO uq_{OLD}_agent_seq")
    op.execute(f"ALTER INDEX ix_presence_changes_agent_at RENAME TO ix_{OLD}_agent_at")
    op.execute(f"CREATE TABLE presence_changes (LIKE {OLD} INCLUDING DEFAULTS) PARTITION BY RANGE (at)")
    op.execute("ALTER TABLE presence_changes ADD CONSTRAINT presence_changes_pkey PRIMARY KEY (id, at)")
    op.execute("ALTER TABLE presence_changes ADD CONSTRAINT uq_presence_changes_agent_seq "
               f"UNIQUE (agent_id, seq, at) INCLUDE ({REPORT_COLUMNS})")
    op.execute("ALTER TABLE presence_changes ADD CONSTRAINT presence_changes_agent_id_fkey "
               "FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE CASCADE")
    op.execute("CREATE INDEX ix_presence_changes_agent_at ON presence_changes (agent_id, at, seq)")
    op.execute("ALTER SEQUENCE presence_changes_id_seq OWNED BY presence_changes.id")
    op.execute("CREATE TABLE presence_changes_default PARTITION OF presence_changes DEFAULT")
    first, this = bind.exec_driver_sql(f"SELECT min(at), timezone('utc', now()) FROM {OLD}").one()
    month, last = _month(min(first or this, this)), _month(_month(this) + timedelta(days=32))
    while month <= last:
        after = _month(month + timedelta(days=32))
        op.execute(f"CREATE TABLE presence_changes_y{month:%Y}m{month:%m} PARTITION OF presence_changes "
                   f"FOR VALUES FROM ('{month:%Y-%m-%d}') TO ('{after:%Y-%m-%d}')")
        month = after
    op.execute(f"INSERT INTO presence_changes SELECT * FROM {OLD}")
    op.execute(f"DROP TABLE {OLD}")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE TABLE {OLD} (LIKE presence_changes INCLUDING DEFAULTS)")
    op.execute(f"INSERT INTO {OLD} SELECT * FROM presence_changes")
    op.execute(f"ALTER SEQUENCE presence_changes_id_seq OWNED BY {OLD}.id")
    op.execute("DROP TABLE presence_changes")  # its partitions with it
    op.execute(f"ALTER TABLE {OLD} RENAME TO presence_changes")
    op.execute("ALTER TABLE presence_changes ADD CONSTRAINT presence_changes_pkey PRIMARY KEY (id)")
    op.execute("ALTER TABLE presence_changes ADD CONSTRAINT uq_presence_changes_agent_seq "
               f"UNIQUE (agent_id, seq) INCLUDE (at, {REPORT_COLUMNS})")
    op.execute("ALTER TABLE presence_changes ADD CONSTRAINT presence_changes_agent_id_fkey "
               "FOREIGN KEY (agent_id) REFERENCES agents (id) ON DELETE CASCADE")
    op.execute("CREATE INDEX ix_presence_changes_agent_at ON presence_changes (agent_id, at, seq)")
