"""Shared roster builds: a failed build is tried again until its sockets get their roster; a slow one never
delays the next by more than MAX_GAP_SECONDS."""
import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from presence_app.extensions import db, socketio
from presence_app.notify.batches import MAX_GAP_SECONDS, Batches

from .inprocess import data_of, drain
from .support import token, wait_for


@pytest.fixture
def app(make_app):
    return make_app(PRESENCE_BATCH_MS=300)


def test_a_failed_shared_roster_build_is_tried_again_and_its_socket_gets_its_roster(app, client, connect):
    connect(1)  # the first after a quiet spell is built at once: the next one waits for a shared build
    failures = []

    def fail_the_roster_once(conn, cursor, statement, parameters, context, executemany):
        if "ORDER BY presence.agent_id" in statement and not failures:
            failures.append(statement)
            raise OperationalError(statement, parameters, Exception("the database went away"))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", fail_the_roster_once)
    try:
        late = socketio.test_client(app, auth={"token": token(2)}, flask_test_client=client)
        assert late.is_connected()
        wait_for(lambda: any(m["name"] == "presence_state" for m in list(late.queue)), timeout=5,
                 message="presence_state after a failed build")
    finally:
        event.remove(engine, "before_cursor_execute", fail_the_roster_once)
    assert failures, "the shared build failed once"
    [state] = data_of(drain(late), "presence_state")
    assert [a["agent_id"] for a in state["agents"]] == [1, 2]


def test_a_slow_build_delays_the_next_by_at_most_the_cap(app):
    batches = Batches(app, lambda *args: None, lambda: "v1.0")
    group = ("default", frozenset({"org:default"}))
    batches.cost[group] = 30.0  # a build that took 30 s
    assert batches._gap(group) == MAX_GAP_SECONDS
    batches.cost[group] = 0.01
    assert batches._gap(group) == batches.window
