"""The ledger at a month of 1 million changes a day, partitioned by month (PostgreSQL only).

Seeds DAYS days of AGENTS agents x PER_DAY changes each (1 M rows a day by default) with
generate_series, each month loaded into a bare table and then attached (its indexes built once),
as a month of production writes would leave it (time order, agents interleaved). Then times, best
of REPEATS: history pages of one agent (first page of the month, a page from the middle by cursor,
one day by since/until) and time in status (one agent by day over the month; the org over the last
closed day from the ledger; the org over the month after rolling up every day), with EXPLAIN
(ANALYZE, BUFFERS) of the history and one-agent report statements. Last, a month of DROP_ROWS rows
15 months back is dropped by the retention job (keep_ledger), timed: a partition drop, not a DELETE.
Bars (README, "Reports"): the org's 31-day report under 1 s; a history page well under 100 ms.
Prints figures; it asserts only that the answers add up.
Run: DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres flock /work/.heavy.lock \\
     .venv/bin/python bench/bench_ledger.py   (BENCH_DAYS=31 BENCH_ROLLUP=1 by default)
"""
import os
import time
from datetime import timedelta

from common import bench_app, best_of, dialect, seed
from sqlalchemy import select, text

from presence_app import jobs
from presence_app.dbtime import now
from presence_app.extensions import db
from presence_app.services import history, ledger, reports
from presence_app.services.identity import Identity

# 1,000,000 changes a day: 20,000 agents x 50 (BENCH_AGENTS=1000 BENCH_PER_DAY=1000: bench_report's org size)
AGENTS = int(os.environ.get("BENCH_AGENTS", 20_000))
PER_DAY = int(os.environ.get("BENCH_PER_DAY", 50))
DAYS = int(os.environ.get("BENCH_DAYS", 31))
ROLL_UP = os.environ.get("BENCH_ROLLUP", "1") == "1"
DROP_ROWS, REPEATS, AGENT = 5_000_000, 5, 777

ROWS = """
INSERT INTO {table} (agent_id, org, seq, from_status, to_status, message, websocket_connected, reason,
                     reason_code, actor_id, at)
SELECT a, 'default', :first_seq + n,
       (ARRAY['online', 'busy', 'away', 'offline'])[1 + (a + n + 2) % 4],
       (ARRAY['online', 'busy', 'away', 'offline'])[1 + (a + n + 3) % 4],
       '', n % 5 <> 0, 'manual',
       CASE WHEN (a + n + 3) % 4 = 2 THEN (ARRAY['lunch', 'break'])[1 + n % 2] END, a,
       CAST(:day AS timestamp) + make_interval(secs => (n - 1) * 86400.0 / :per_day + a % (86400 / :per_day))
FROM generate_series(1, :per_day) AS n CROSS JOIN generate_series(1, :agents) AS a
"""
HISTORY = ("SELECT * FROM presence_changes WHERE agent_id = :a AND seq > :after AND at >= :since AND at < :until "
           "ORDER BY seq LIMIT 101")


def load_month(month, days, per_day=PER_DAY, first_day_index=0):
    """Load `days` (datetimes of midnights in `month`) into a bare table, then attach it as the month's partition."""
    name = ledger.partition_name(month)
    if month in ledger.partitions():
        db.session.execute(text(f"DROP TABLE {name}"))  # the migration's empty one: loaded bare, indexed once
    db.session.execute(text(f"CREATE TABLE {name} (LIKE presence_changes INCLUDING DEFAULTS)"))
    db.session.commit()
    for index, day in enumerate(days, first_day_index):
        began = time.perf_counter()
        db.session.execute(text(ROWS.format(table=name)), {"first_seq": index * per_day, "day": day,
                                                           "per_day": per_day, "agents": AGENTS})
        db.session.commit()
        print(f"  {day:%Y-%m-%d}: {per_day * AGENTS:,} rows in {time.perf_counter() - began:.1f} s", flush=True)
    began = time.perf_counter()
    db.session.execute(text(f"ALTER TABLE presence_changes ATTACH PARTITION {name} FOR VALUES FROM "
                            f"('{month:%Y-%m-%d}') TO ('{ledger.next_month(month):%Y-%m-%d}')"))
    db.session.commit()
    print(f"  {name} attached (indexes built, foreign key checked) in {time.perf_counter() - began:.1f} s", flush=True)


def explain(statement, params):
    plan = db.session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {statement}"), params).scalars().all()
    db.session.commit()
    return "\n".join(f"    {line}" for line in plan)


def main():
    with bench_app():
        if dialect() != "postgresql":
            raise SystemExit("bench_ledger.py runs on PostgreSQL: set DATABASE_URL=postgresql://...")
        seed(AGENTS, status="online")
        today = db.session.scalar(select(now())).replace(hour=0, minute=0, second=0, microsecond=0)
        start = today - timedelta(days=DAYS)
        days = [start + timedelta(days=n) for n in range(DAYS)]
        print(f"seeding {DAYS} days x {AGENTS * PER_DAY:,} rows ({AGENTS:,} agents x {PER_DAY} changes a day)",
              flush=True)
        began = time.perf_counter()
        for month in sorted({ledger.month_start(day) for day in days}):
            load_month(month, [day for day in days if ledger.month_start(day) == month], first_day_index=days.index(
                next(day for day in days if ledger.month_start(day) == month)))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE presence_changes, agents"))
        rows = db.session.scalar(text("SELECT count(*) FROM presence_changes"))
        print(f"ledger: {rows:,} rows in {time.perf_counter() - began:.0f} s (seeded, attached, analysed); "
              f"partitions: {', '.join(sorted(ledger.partitions().values()))}", flush=True)
        for name in sorted(ledger.partitions().values()):
            size, count = db.session.execute(text(
                f"SELECT pg_total_relation_size('{name}'), (SELECT count(*) FROM {name})")).one()
            print(f"  {name}: {count:,} rows, {size / 2**20:,.0f} MiB with its indexes"
                  + (f" ({size / count:.0f} bytes a row)" if count else ""))
        db.session.commit()
        supervisor = Identity(1, "Agent 1", "default", "supervisor")
        _history(supervisor, start, today)
        _time_in_status(supervisor, start, today)
        _drop(today)


def _history(supervisor, start, today):
    middle = start + timedelta(days=DAYS // 2)
    cases = {
        f"first page of {DAYS} days": {"since": start, "until": today},
        "a page from the middle (cursor)": {"since": start, "until": today,
                                            "cursor": {"org": "default", "agent": AGENT, "after": DAYS // 2 * PER_DAY}},
        "one day (since/until)": {"since": middle, "until": middle + timedelta(days=1)},
    }
    for label, args in cases.items():
        answer = {}
        took = best_of(REPEATS, lambda args=args, answer=answer: answer.update(
            history.changes(supervisor, AGENT, limit=100, **args)))
        print(f"history, {label:<32}: {took * 1e3:7.2f} ms ({len(answer['changes'])} changes; bar < 100 ms)")
    print("  plan of the one-day page:\n" + explain(HISTORY, {"a": AGENT, "after": 0, "since": middle,
                                                               "until": middle + timedelta(days=1)}))


def _time_in_status(supervisor, start, today):
    took = best_of(REPEATS, lambda: reports.time_in_status(supervisor, start, today, agent_id=AGENT, group_by="day"))
    print(f"time in status, one agent, {DAYS} days by day (ledger): {took * 1e3:7.1f} ms")
    last = today - timedelta(days=1)
    answer = {}
    took = best_of(2, lambda: answer.update(reports.time_in_status(supervisor, last, today)))
    total = sum(sum(row["seconds"].values()) for row in answer["rows"])
    assert abs(total - AGENTS * 86400) <= AGENTS * 2, total
    print(f"time in status, the org ({AGENTS:,} agents), the last day (ledger, 1 M changes): {took * 1e3:7.1f} ms")
    if not ROLL_UP:
        print("roll-up skipped (BENCH_ROLLUP=0): the org's month is not measured")
        return
    began, done = time.perf_counter(), 0
    while rolled := reports.roll_up():
        done += rolled
    took = time.perf_counter() - began
    print(f"roll-up of {done} closed days: {took:.0f} s ({took / max(done, 1):.1f} s a day of {AGENTS:,} agents)")
    for group_by in ("agent", "day"):
        took = best_of(2, lambda group_by=group_by: reports.time_in_status(supervisor, start, today,
                                                                             group_by=group_by))
        print(f"time in status, the org, {DAYS} rolled-up days, group_by={group_by:<5}: {took * 1e3:8.1f} ms "
              f"(bar < 1000 ms)")


def _drop(today):
    old = ledger.month_start(today - timedelta(days=460))
    per_day = max(1, DROP_ROWS // (10 * AGENTS))
    print(f"a month of {DROP_ROWS:,} rows 15 months back ({old:%Y-%m}):", flush=True)
    load_month(old, [old + timedelta(days=n) for n in range(10)], per_day=per_day, first_day_index=-10_000)
    count = db.session.scalar(text(f"SELECT count(*) FROM {ledger.partition_name(old)}"))
    db.session.commit()
    began = time.perf_counter()
    result = jobs.keep_ledger()
    took = time.perf_counter() - began
    assert ledger.partition_name(old) in result["dropped"], result
    print(f"keep_ledger dropped {result['dropped']} ({count:,} rows) in {took * 1e3:.0f} ms, the whole job "
          f"(creating ahead included; bar < 1000 ms)")


if __name__ == "__main__":
    main()
