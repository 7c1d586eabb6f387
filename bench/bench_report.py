"""The 31-day time-in-status report over a month of ledger: 1,000 agents, 50 changes each a day.

Seeds 1.55 million ledger rows on PostgreSQL in time order (as production writes them, agents
interleaved), then times the report for the whole org, by agent and by day, and for one agent.
Target: under 1 s for the org. Prints figures; it asserts only that the answers add up.
Run: DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_report.py
"""
import time
from datetime import timedelta

from common import bench_app, best_of, dialect, seed
from sqlalchemy import select, text

from presence_app.dbtime import now
from presence_app.extensions import db
from presence_app.services import reports
from presence_app.services.identity import Identity

AGENTS, PER_DAY, DAYS, REPEATS = 1_000, 50, 31, 5

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
    with bench_app() as app:
        if dialect() != "postgresql":
            raise SystemExit("bench_report.py runs on PostgreSQL: set DATABASE_URL=postgresql://...")
        seed(AGENTS, status="online")
        start = (db.session.scalar(select(now())) - timedelta(days=DAYS + 1)).replace(hour=0, minute=0, second=0,
                                                                                      microsecond=0)
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
        for group_by in ("agent", "day"):
            answer = {}

            def run(group_by=group_by, answer=answer):
                answer.update(reports.time_in_status(supervisor, since, until, group_by=group_by))

            elapsed = best_of(REPEATS, run)
            total = sum(sum(row["seconds"].values()) for row in answer["rows"])
            assert total == AGENTS * DAYS * 86400, total
            print(f"31-day report, {AGENTS} agents, group_by={group_by:<5}: {elapsed * 1e3:8.1f} ms "
                  f"({len(answer['rows']):,} rows; target < 1000 ms)")
        one = best_of(REPEATS, lambda: reports.time_in_status(supervisor, since, until, agent_id=500, group_by="day"))
        print(f"31-day report, one agent,   group_by=day  : {one * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
