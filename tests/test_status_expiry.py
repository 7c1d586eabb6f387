"""Expiring statuses: until / for_minutes, the expiry sweep, and its races with manual changes and the timeout."""
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import event

from presence_app import jobs
from presence_app.extensions import db

from .inprocess import backdate, changes, drain, run_job, silence
from .support import CHAT, bearer

SET_STATUS = "/api/v1/presence/set-status/"
SUP = 90


@pytest.fixture
def app(make_app):
    return make_app(PRESENCE_TIMEOUT_SECONDS=0.5)


def set_status(client, sub, body, **claims):
    return client.post(SET_STATUS, json=body, headers=bearer(sub, **claims))


def me(client, sub=5):
    return client.get("/api/v1/presence/me/", headers=bearer(sub)).json


def expire(app):
    return run_job(app, jobs.expire_statuses)


def lapse(app, sub=5):
    """Move the agent's deadline into the past, as if its minutes had gone by."""
    backdate(app, sub, status_until=24 * 3600 + 1)


def z(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_until(presence):
    return (datetime.fromisoformat(presence["status_until"]) - datetime.now(UTC)).total_seconds()


def test_for_minutes_sets_a_deadline_and_its_end_returns_to_the_status_before(app, client, connect, database):
    observer, outsider = connect(SUP, role="supervisor"), connect(7, org="other", role="supervisor")
    set_status(client, 5, {"status": "online", "message": "Queue A"})
    drain(observer), drain(outsider)

    busy = set_status(client, 5, {"status": "busy", "message": "Call", "for_minutes": 15}).json
    assert busy["status"] == "busy" and 15 * 60 - 5 <= seconds_until(busy) <= 15 * 60
    assert expire(app) == 0, "not yet"

    lapse(app)
    assert expire(app) == 1
    assert expire(app) == 0

    back = me(client)
    assert (back["status"], back["status_message"], back["status_until"]) == ("online", "Queue A", None)
    assert [(e["status"], e["reason"], e["previous_status"]) for e in changes(observer)] == [
        ("busy", "manual", "online"), ("online", "expired", "busy")]
    assert (database.ledger(5)[-1].reason, database.ledger(5)[-1].actor_id) == ("expired", None)
    assert changes(outsider) == [], "another org hears nothing"


def test_until_is_an_instant_with_an_offset_and_returns_the_reason_code_too(app, client):
    client.put("/api/v1/reason-codes/", json={"codes": [
        {"code": "lunch", "label": "Lunch", "statuses": ["away"]},
        {"code": "coaching", "label": "Coaching", "statuses": ["busy"]}]}, headers=bearer(SUP, role="supervisor"))
    set_status(client, 5, {"status": "away", "message": "Lunch", "reason_code": "lunch"})
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)

    answer = set_status(client, 5, {"status": "busy", "reason_code": "coaching",
                                    "until": until.astimezone(timezone(timedelta(hours=-3))).isoformat()}).json

    assert answer["status_until"] == z(until)
    lapse(app)
    assert expire(app) == 1
    back = me(client)
    assert (back["status"], back["status_message"], back["reason_code"]) == ("away", "Lunch", "lunch")


def test_a_supervisor_and_a_socket_may_set_expiring_statuses(app, client, connect):
    sio = connect(5)
    ack = sio.emit("set_status", {"status": "busy", "for_minutes": 1}, callback=True)
    assert ack["ok"] and ack["presence"]["status_until"] is not None
    forced = client.post("/api/v1/presence/6/set-status/", json={"status": "away", "for_minutes": 30},
                         headers=bearer(SUP, role="supervisor"))
    assert forced.status_code == 404, "agent 6 has not been seen yet"
    set_status(client, 6, {"status": "online"})
    forced = client.post("/api/v1/presence/6/set-status/", json={"status": "away", "for_minutes": 30},
                         headers=bearer(SUP, role="supervisor"))
    assert forced.json["status_until"] is not None
    lapse(app, 5)
    lapse(app, 6)
    assert expire(app) == 2
    assert (me(client, 5)["status"], me(client, 6)["status"]) == ("offline", "online")


def test_a_manual_change_before_the_deadline_cancels_it(app, client, database):
    set_status(client, 5, {"status": "online"})
    set_status(client, 5, {"status": "busy", "for_minutes": 10})

    plain = set_status(client, 5, {"status": "away"}).json

    assert plain["status_until"] is None
    assert expire(app) == 0
    assert me(client)["status"] == "away"
    assert database.reasons(5) == ["manual", "manual", "manual"]


def test_a_second_expiring_status_moves_the_deadline_and_keeps_the_state_to_return_to(app, client):
    set_status(client, 5, {"status": "online", "message": "Queue A"})
    set_status(client, 5, {"status": "busy", "for_minutes": 10})
    set_status(client, 5, {"status": "away", "for_minutes": 5})
    longer = set_status(client, 5, {"status": "away", "for_minutes": 20}).json

    assert 20 * 60 - 5 <= seconds_until(longer) <= 20 * 60
    lapse(app)
    assert expire(app) == 1
    assert (me(client)["status"], me(client)["status_message"]) == ("online", "Queue A")


def test_an_expiry_back_to_the_same_state_clears_the_deadline_and_announces_nothing(app, client, connect):
    set_status(client, 5, {"status": "online"})
    observer = connect(SUP, role="supervisor")
    set_status(client, 5, {"status": "online", "for_minutes": 5})  # same state: nothing to announce
    drain(observer)
    lapse(app)

    assert expire(app) == 0
    assert me(client)["status_until"] is None
    assert changes(observer) == []


def test_expiring_to_offline_stops_typing(app, client, connect):
    observer = connect(SUP, role="supervisor")
    assert observer.emit("join_chat", {"chat_id": CHAT}, callback=True)["ok"]
    set_status(client, 5, {"status": "online", "for_minutes": 5})
    client.post("/api/v1/typing/", json={"chat_id": CHAT}, headers=bearer(5))
    drain(observer)
    lapse(app)

    assert expire(app) == 1
    assert sorted(name for name, _ in drain(observer)) == ["agent_presence_changed", "typing_stop"]


@pytest.mark.parametrize("extra, field", [
    ({"for_minutes": 0}, "for_minutes"),
    ({"for_minutes": 1441}, "for_minutes"),
    ({"for_minutes": "5"}, "for_minutes"),
    ({"for_minutes": 1.5}, "for_minutes"),
    ({"for_minutes": True}, "for_minutes"),
    ({"until": "2030-01-01T10:00:00"}, "until"),  # no offset
    ({"until": "soon"}, "until"),
    ({"until": 1893456000}, "until"),
    ({"until": "PAST"}, "until"),
    ({"until": "FAR"}, "until"),
    ({"until": "SOON", "for_minutes": 5}, "for_minutes"),
    ({"ttl": 5}, "ttl"),
])
def test_bad_deadlines_answer_400_and_change_nothing(client, connect, extra, field):
    now = datetime.now(UTC)
    named = {"PAST": z(now - timedelta(seconds=5)), "FAR": z(now + timedelta(hours=24, minutes=1)),
             "SOON": z(now + timedelta(minutes=5))}
    body = {"status": "busy", **{k: named.get(v, v) if isinstance(v, str) else v for k, v in extra.items()}}
    sio = connect(5)

    r = set_status(client, 5, body)
    ack = sio.emit("set_status", body, callback=True)

    assert r.status_code == 400, r.json
    for answer in (r.json, ack):
        assert answer["error"] == "validation_error" and field in answer["details"], answer
    assert (me(client)["status"], me(client)["status_until"]) == ("offline", None)


def test_24_hours_ahead_is_the_furthest_deadline(client):
    until = datetime.now(UTC) + timedelta(hours=23, minutes=59)
    assert set_status(client, 5, {"status": "busy", "until": z(until)}).status_code == 200
    assert set_status(client, 5, {"status": "busy", "for_minutes": 1440}).status_code == 200


def test_concurrent_expiry_sweeps_apply_each_expiry_once(app, client, database):
    agents = list(range(20, 30))
    for sub in agents:
        set_status(client, sub, {"status": "away", "for_minutes": 5})
        lapse(app, sub)
    start, counts = threading.Barrier(4), []

    def sweeper():
        with app.app_context():
            start.wait(timeout=10)
            counts.append(jobs.expire_statuses())

    threads = [threading.Thread(target=sweeper) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(counts) == 4 and sum(counts) == len(agents), counts
    for sub in agents:
        assert database.reasons(sub) == ["manual", "expired"]


@pytest.mark.parametrize("round_", range(3))
def test_a_manual_change_racing_the_expiry_sweep_wins_and_the_expiry_applies_at_most_once(app, client, database,
                                                                                          round_):
    set_status(client, 5, {"status": "online"})
    set_status(client, 5, {"status": "busy", "for_minutes": 5})
    lapse(app)
    start = threading.Barrier(2)

    def sweep():
        with app.app_context():
            start.wait(timeout=10)
            jobs.expire_statuses()

    def manual():
        start.wait(timeout=10)
        assert app.test_client().post(SET_STATUS, json={"status": "away", "message": "Manual"},
                                      headers=bearer(5)).status_code == 200

    threads = [threading.Thread(target=sweep), threading.Thread(target=manual)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    reasons = database.reasons(5)
    assert reasons in (["manual", "manual", "manual"], ["manual", "manual", "expired", "manual"]), reasons
    assert (me(client)["status"], me(client)["status_message"], me(client)["status_until"]) == ("away", "Manual", None)
    assert expire(app) == 0


def test_the_timeout_and_the_expiry_never_both_act_on_one_state(app, client, database):
    agents = list(range(40, 50))
    for sub in agents:
        set_status(client, sub, {"status": "online"})
        set_status(client, sub, {"status": "busy", "for_minutes": 5})
        lapse(app, sub)
        silence(app, sub)
    start = threading.Barrier(2)

    def run(job):
        with app.app_context():
            start.wait(timeout=10)
            job()

    threads = [threading.Thread(target=run, args=(job,))
               for job in (jobs.expire_statuses, jobs.check_agent_presence_timeout)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    for sub in agents:
        # Either the expiry came first and the timeout took the state it left, or the timeout came first
        # and the expiry waits for the agent's return: never both on the busy state.
        assert database.reasons(sub)[2:] in (["expired", "timeout"], ["timeout"]), database.reasons(sub)
        assert me(client, sub)["status_until"] is None


def test_a_deadline_that_passed_while_timed_out_applies_after_the_resume(app, client, database):
    set_status(client, 5, {"status": "online", "message": "Queue A"})
    set_status(client, 5, {"status": "busy", "for_minutes": 5})
    silence(app, 5)
    assert run_job(app, jobs.check_agent_presence_timeout) == 1
    lapse(app)

    assert expire(app) == 0, "the timeout owns that state"
    assert client.post("/api/v1/presence/heartbeat/", headers=bearer(5)).json["status"] == "busy"
    assert expire(app) == 1

    assert (me(client)["status"], me(client)["status_message"]) == ("online", "Queue A")
    assert database.reasons(5) == ["manual", "manual", "timeout", "resumed", "expired"]


def test_a_deadline_passing_while_the_sweep_runs_is_applied_by_the_next_sweep_never_dropped(app, client, database):
    set_status(client, 5, {"status": "online", "message": "Queue A"})
    until = datetime.now(UTC) + timedelta(seconds=1.5)
    set_status(client, 5, {"status": "busy", "until": until.isoformat()})
    slowed = []

    def deadline_passes(conn, cursor, statement, parameters, context, executemany):
        if "change_reason" in statement and not slowed:  # right after the sweep's first statement
            slowed.append(statement)
            time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.2)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "after_cursor_execute", deadline_passes)
    try:
        assert expire(app) == 0, "not due when the sweep looked"
    finally:
        event.remove(engine, "after_cursor_execute", deadline_passes)

    assert slowed and me(client)["status_until"] == z(until), "the deadline is kept for the next sweep"
    assert expire(app) == 1
    assert database.reasons(5) == ["manual", "manual", "expired"]
    assert (me(client)["status"], me(client)["status_message"]) == ("online", "Queue A")


def test_an_expiring_status_set_after_a_timeout_returns_to_what_the_timeout_took_never_its_offline(app, client,
                                                                                                   database):
    set_status(client, 5, {"status": "online", "message": "Queue A"})
    silence(app, 5)
    assert run_job(app, jobs.check_agent_presence_timeout) == 1
    assert me(client)["status"] == "offline"

    assert set_status(client, 5, {"status": "busy", "message": "Call", "for_minutes": 5}).json["status"] == "busy"
    assert client.post("/api/v1/presence/heartbeat/", headers=bearer(5)).status_code == 200
    lapse(app)
    assert expire(app) == 1

    back = me(client)
    assert (back["status"], back["status_message"], back["status_until"]) == ("online", "Queue A", None)
    assert database.reasons(5) == ["manual", "timeout", "manual", "expired"]
