"""Heartbeat cost: statements per heartbeat, and time relative to one raw primary-key UPDATE.

Baseline (same run, same database): `UPDATE presence SET last_seen = ... WHERE agent_id = ?`
committed, the least a heartbeat can cost. Target: 1 statement, and at most about 2x the
baseline (the rest is Python: building the presence object).
Run: .venv/bin/python bench/bench_heartbeat.py   (DATABASE_URL=postgresql://... for PostgreSQL)
"""
from common import bench_app, best_of, count_statements, dialect, seed
from sqlalchemy import update

from presence_app.dbtime import now
from presence_app.extensions import db
from presence_app.models import Presence
from presence_app.services import presence
from presence_app.services.identity import Identity, ensure_agent

ROUNDS, REPEATS, AGENTS = 300, 5, 5_000


def main():
    with bench_app():
        seed(AGENTS, status="online")
        me = Identity(agent_id=AGENTS // 2, name=f"Agent {AGENTS // 2}", org="default", role="agent")
        ensure_agent(me)

        def raw():
            for _ in range(ROUNDS):
                db.session.execute(update(Presence).where(Presence.agent_id == me.agent_id).values(last_seen=now()))
                db.session.commit()

        def heartbeat():
            for _ in range(ROUNDS):
                presence.heartbeat(me)

        with count_statements() as counted:
            presence.heartbeat(me)
        base, hb = best_of(REPEATS, raw), best_of(REPEATS, heartbeat)
        print(f"database: {dialect()}, agents: {AGENTS}, heartbeats per round: {ROUNDS}")
        print(f"SQL statements per heartbeat: {counted['n']} (target 1)")
        print(f"baseline raw UPDATE+commit: {base / ROUNDS * 1e6:8.1f} us")
        print(f"heartbeat (service):        {hb / ROUNDS * 1e6:8.1f} us")
        print(f"ratio heartbeat/baseline:   {hb / base:8.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
