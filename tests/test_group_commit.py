"""Heartbeats in a group commit: one transaction for the group, each its own answer, the rules unchanged.

To make a group deterministic, the test holds the database's write lock (SQLite) or the presence
rows' locks (PostgreSQL) while the heartbeats arrive: the first one waits in the database and
the rest queue behind it, so they are written together once the lock is let go.
"""
import contextlib
import threading
import time

import pytest
from sqlalchemy import create_engine, event, text

from presence_app import jobs
from presence_app.config import database_url as sa_url
from presence_app.extensions import db

from .inprocess import ledger, run_job, set_status, silence
from .support import bearer

HEARTBEAT = "/api/v1/presence/heartbeat/"


@contextlib.contextmanager
def database_held(url):
    """Hold the writers back until the block ends."""
    engine = create_engine(sa_url(url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
            conn.exec_driver_sql("SELECT agent_id FROM presence FOR UPDATE")
        try:
            yield
        finally:
            conn.exec_driver_sql("COMMIT")
    engine.dispose()


def heartbeats_at_once(app, subs, url):
    """Send one heartbeat per agent from threads while the database is held; return {sub: response}."""
    answers, threads = {}, []

    def beat(sub):
        answers[sub] = app.test_client().post(HEARTBEAT, headers=bearer(sub))

    with database_held(url):
        for sub in subs:
            threads.append(threading.Thread(target=beat, args=(sub,)))
            threads[-1].start()
        time.sleep(1.0)  # every heartbeat is queued (or waiting in the database) by now
    for thread in threads:
        thread.join(30)
    return answers


@pytest.fixture
def statements(app):
    """The UPDATE statements of heartbeats the app's engine runs, counted."""
    seen = []
    with app.app_context():
        engine = db.engine

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("UPDATE PRESENCE SET LAST_SEEN"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


@pytest.fixture
def app(make_app):
    return make_app(API_RATE_LIMIT="1000 per second")


def test_heartbeats_arriving_together_share_one_statement_and_get_their_own_answers(app, client, fresh_db,
                                                                                     statements):
    subs = list(range(1, 21))
    for sub in subs:
        client.get("/api/v1/presence/me/", headers=bearer(sub))
    answers = heartbeats_at_once(app, subs, fresh_db)
    assert {sub: r.status_code for sub, r in answers.items()} == {sub: 200 for sub in subs}
    assert all(answers[sub].json["agent_id"] == sub and answers[sub].json["last_heartbeat"] for sub in subs)
    assert len(statements) <= 3, f"{len(statements)} statements for {len(subs)} heartbeats"


def test_timed_out_agents_in_a_group_resume_exactly_once(app, client, fresh_db):
    for sub in range(1, 7):
        set_status(client, sub, "busy", f"meeting {sub}")
    for sub in range(1, 4):
        silence(app, sub)
    assert run_job(app, jobs.check_agent_presence_timeout) == 3

    answers = heartbeats_at_once(app, list(range(1, 7)), fresh_db)
    for sub in range(1, 7):
        assert answers[sub].status_code == 200
        assert (answers[sub].json["status"], answers[sub].json["status_message"]) == ("busy", f"meeting {sub}")
    for sub in range(1, 4):
        assert [row[5] for row in ledger(app, sub)] == ["manual", "timeout", "resumed"]
        assert answers[sub].json["seq"] == 3
    for sub in range(4, 7):
        assert [row[5] for row in ledger(app, sub)] == ["manual"]


TRIGGERS = {
    "sqlite": ["CREATE TRIGGER refuse_heartbeats BEFORE UPDATE OF last_heartbeat ON presence "
               "BEGIN SELECT RAISE(ABORT, 'heartbeats refused'); END"],
    "postgresql": ["CREATE FUNCTION refuse_heartbeats() RETURNS trigger AS $$ BEGIN "
                   "RAISE EXCEPTION 'heartbeats refused'; END $$ LANGUAGE plpgsql",
                   "CREATE TRIGGER refuse_heartbeats BEFORE UPDATE OF last_heartbeat ON presence "
                   "FOR EACH ROW EXECUTE FUNCTION refuse_heartbeats()"],
}
DROP = {"sqlite": ["DROP TRIGGER refuse_heartbeats"],
        "postgresql": ["DROP TRIGGER refuse_heartbeats ON presence", "DROP FUNCTION refuse_heartbeats()"]}


def run_sql(url, statements):
    engine = create_engine(sa_url(url))
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def written(client):
    """What a heartbeat or a resume writes, of agents 1-5."""
    fields = ("status", "last_heartbeat", "seq", "is_inactive")
    return {sub: tuple(client.get(f"/api/v1/presence/{sub}/", headers=bearer(9)).json[f] for f in fields)
            for sub in range(1, 6)}


def test_a_failing_group_rolls_back_every_member_and_answers_each(app, client, fresh_db, statements):
    for sub in range(1, 6):
        set_status(client, sub, "online")
    silence(app, 1)
    assert run_job(app, jobs.check_agent_presence_timeout) == 1
    before = written(client)
    dialect = "sqlite" if fresh_db.startswith("sqlite") else "postgresql"
    run_sql(fresh_db, TRIGGERS[dialect])
    try:
        answers = heartbeats_at_once(app, list(range(1, 6)), fresh_db)
    finally:
        run_sql(fresh_db, DROP[dialect])
    assert {sub: r.status_code for sub, r in answers.items()} == {sub: 500 for sub in range(1, 6)}
    assert all(r.json["error"] == "internal_error" for r in answers.values())
    assert len(statements) < 5, "the heartbeats were written as a group"
    assert written(client) == before, "nothing of the failed group was written"
    assert [row[5] for row in ledger(app, 1)] == ["manual", "timeout"]  # the resume rolled back too

    assert client.post(HEARTBEAT, headers=bearer(1)).json["status"] == "online"  # and it serves again
    assert [row[5] for row in ledger(app, 1)] == ["manual", "timeout", "resumed"]
