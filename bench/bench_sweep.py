"""Sweep cost grows with expired agents, not with all agents.

Two rosters in the same run: a small one (baseline) and one 20x larger, each with the same
number of agents past the timeout. Target: the large sweep costs about as much as the small
one (ratio near 1, well under the 20x a full scan would approach).
Run: .venv/bin/python bench/bench_sweep.py   (DATABASE_URL=postgresql://... for PostgreSQL)
"""
from common import bench_app, best_of, dialect, seed
from sqlalchemy import text, update

from presence_app.dbtime import seconds_ago
from presence_app.extensions import db
from presence_app.models import Presence
from presence_app.services import presence

SMALL, LARGE, EXPIRED, REPEATS = 2_000, 40_000, 20, 7


def _timed_sweep(live_count, start):
    """Seed live agents plus EXPIRED stale ones, then time sweeps that each expire EXPIRED agents."""
    seed(live_count, start=start, status="online")
    stale = seed(EXPIRED, start=start + live_count, status="busy")
    if dialect() == "postgresql":
        db.session.execute(text("ANALYZE presence"))
        db.session.commit()

    def reset_and_sweep():
        db.session.execute(update(Presence).where(Presence.agent_id.in_(stale))
                           .values(status="busy", last_seen=seconds_ago(3600)))
        db.session.commit()
        assert presence.expire_inactive() == EXPIRED

    reset_and_time = best_of(REPEATS, reset_and_sweep)
    reset_only = best_of(REPEATS, lambda: (db.session.execute(
        update(Presence).where(Presence.agent_id.in_(stale)).values(status="online", last_seen=seconds_ago(3600))),
        db.session.commit(), db.session.execute(update(Presence).where(Presence.agent_id.in_(stale))
                                                .values(status="offline")), db.session.commit()))
    return max(reset_and_time - reset_only, 1e-6)


def main():
    with bench_app(PRESENCE_TIMEOUT_SECONDS=120):
        small = _timed_sweep(SMALL, 1)
        large = _timed_sweep(LARGE - SMALL, SMALL + EXPIRED + 1)
        plan = ""
        if dialect() == "postgresql":
            rows = db.session.execute(text(
                "EXPLAIN SELECT agent_id FROM presence WHERE status <> 'offline' AND connections = 0 "
                "AND last_seen < now() - interval '120 seconds'")).all()
            plan = rows[0][0]
        print(f"database: {dialect()}, expired per sweep: {EXPIRED}")
        print(f"sweep over {SMALL:>6} agents (baseline): {small * 1e3:8.2f} ms")
        print(f"sweep over {LARGE:>6} agents:            {large * 1e3:8.2f} ms")
        print(f"ratio large/baseline: {large / small:6.2f}x for {LARGE // SMALL}x the agents (target: near 1)")
        if plan:
            print(f"plan: {plan}")


if __name__ == "__main__":
    main()
