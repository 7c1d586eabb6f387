"""The 31-day time-in-status report over a month of ledger: 1,000 agents, 50 changes each a day.

Seeds 1.55 million ledger rows on PostgreSQL in time order (as production writes them, agents
interleaved), then times the report for the whole org, by agent and by day, and for one agent:
from the ledger alone, then after the periodic roll-up has written every closed day (timed too),
for whole days and for a range whose first and last days come from the ledger.
Target: under 1 s for the org. Two baselines measured in the same run make the figures readable
on a busy machine: reading the month's ledger, and one bare LEAD pass over it (the least any
window-function report must do). Prints figures; it asserts only that the answers add up.
Run: DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_report.py
"""
import time
from datetime import timedelta

from common import bench_app, best_of, dialect, seed
from sqlalchemy import select, text

from presence_app.dbtime import now
from presence_app.extensions import db
from presence_app.services import ledger, reports
from presence_app.services.identity import Identity

AGENTS, PER_DAY, DAYS, REPEATS = 1_000, 50, 31, 5
READ = "SELECT count(*), max(to_status) FROM presence_changes WHERE at >= :since AND at < :until"
LEAD_PASS = """SELECT sum(next_at - at) FROM (
    SELECT at, LEAD(at) OVER (PARTITION BY agent_id ORDER BY seq) AS next_at
    FROM presence_changes WHERE at >= :since AND at < :until) AS spans"""

SEED = """
INSERT INTO presence_changes (agent_id, org, seq, from_status, to_status, message, websocket_connected, reason,
                              reason_code, actor_id, at)
SELECT a, 'default', n,
       (ARRAY['online', 'busy', 'away', 'offline'])[1 + (a + n + 2) % 4],
       (ARRAY['online', 'busy', 'away', 'offline'])[1 + (a + n + 3) % 4],
       '', n % 5 <> 0, 'manual',
       CASE WHEN (a + n + 3) % 4 = 2 THEN (ARRAY['lunch', 'break'])[1 + n % 2] END, a,
       CAST(:start AS timestamp) + make_interval(secs => (n - 1) * 86400.0 / :per_day + a % 600)
FROM generate_series(1, :changes) AS n CROSS JOIN generate_series(1, :agents) AS a
ORDER BY n, a
"""


def main():
    with bench_app():
        if dialect() != "postgresql":
            raise SystemExit("bench_report.py runs on PostgreSQL: set DATABASE_URL=postgresql://...")
        seed(AGENTS, status="online")
        start = (db.session.scalar(select(now())) - timedelta(days=DAYS + 1)).replace(hour=0, minute=0, second=0,
                                                                                      microsecond=0)
        ledger.ensure_partitions(start, db.session.scalar(select(now())))  # PostgreSQL's monthly partitions (0008)
        began = time.perf_counter()
        db.session.execute(text(SEED), {"start": start, "per_day": PER_DAY, "changes": PER_DAY * DAYS,
                                        "agents": AGENTS})
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE presence_changes, agents"))
        rows = db.session.scalar(text("SELECT count(*) FROM presence_changes"))
        print(f"database: {dialect()}, ledger rows: {rows:,} ({AGENTS} agents x {PER_DAY}/day x {DAYS} days), "
              f"seeded in {time.perf_counter() - began:.1f} s")

        supervisor = Identity(1, "Agent 1", "default", "supervisor")
        since, until = start, start + timedelta(days=DAYS)
        window = {"since": since, "until": until}
        read = best_of(REPEATS, lambda: db.session.execute(text(READ), window).all())
        lead = best_of(REPEATS, lambda: db.session.execute(text(LEAD_PASS), window).all())
        db.session.commit()
        print(f"baseline: read the month's ledger {read * 1e3:8.1f} ms; one bare LEAD pass {lead * 1e3:8.1f} ms")
        _reports(supervisor, since, until, "from the ledger alone (no day rolled up yet)", lead, repeats=2)

        began, days = time.perf_counter(), 0
        while done := reports.roll_up():
            days += done
        took = time.perf_counter() - began
        print(f"roll-up of {days} closed days: {took:.1f} s ({took / days * 1e3:.0f} ms a day, for {AGENTS} agents)")
        _reports(supervisor, since, until, "31 rolled-up days", lead)
        edges = (since + timedelta(hours=7, minutes=30), db.session.scalar(select(now())))
        _reports(supervisor, *edges, "31 days to now: ledger for the first and last days", lead)
        one = best_of(REPEATS, lambda: reports.time_in_status(supervisor, since, until, agent_id=500, group_by="day"))
        print(f"31-day report, one agent,   group_by=day  : {one * 1e3:8.1f} ms")


def _reports(supervisor, since, until, label, lead, repeats=REPEATS):
    """Time the org's report by agent and by day over since..until; check that every second is counted."""
    print(f"{label}:")
    for group_by in ("agent", "day"):
        answer = {}

        def run(group_by=group_by, answer=answer):
            answer.update(reports.time_in_status(supervisor, since, until, group_by=group_by))

        elapsed = best_of(repeats, run)
        total = sum(sum(row["seconds"].values()) for row in answer["rows"])
        assert abs(total - AGENTS * (until - since).total_seconds()) <= len(answer["rows"]) * 2, total
        print(f"  {AGENTS} agents, group_by={group_by:<5}: {elapsed * 1e3:8.1f} ms = {elapsed / lead:4.1f}x the bare "
              f"LEAD pass ({len(answer['rows']):,} rows; target < 1000 ms)")


if __name__ == "__main__":
    main()
