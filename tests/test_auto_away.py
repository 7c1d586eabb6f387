"""Auto-away: the console reports idleness (REST and socket); only an online agent goes away, only idleness returns."""
import threading

import pytest

from presence_app import jobs

from .inprocess import changes, drain, run_job, silence
from .support import bearer

ACTIVITY = "/api/v1/presence/activity/"
SUP = 90


@pytest.fixture
def app(make_app):
    return make_app(PRESENCE_TIMEOUT_SECONDS=0.5)


def set_status(client, sub, status, message="", **claims):
    r = client.post("/api/v1/presence/set-status/", json={"status": status, "message": message},
                    headers=bearer(sub, **claims))
    assert r.status_code == 200, r.json
    return r.json


def activity(client, sub, idle, **claims):
    r = client.post(ACTIVITY, json={"idle": idle}, headers=bearer(sub, **claims))
    assert r.status_code == 200, r.json
    return r.json


def status_of(client, sub):
    return client.get(f"/api/v1/presence/{sub}/", headers=bearer(SUP)).json["status"]


def test_an_idle_online_agent_goes_away_and_comes_back_on_activity(client, connect, database):
    observer, outsider = connect(SUP, role="supervisor"), connect(7, org="other")
    set_status(client, 5, "online", "Queue A")
    drain(observer), drain(outsider)

    away = activity(client, 5, True)
    back = activity(client, 5, False)

    assert (away["status"], away["status_message"], back["status"], back["status_message"]) == (
        "away", "Queue A", "online", "Queue A")
    assert [(e["status"], e["reason"], e["previous_status"]) for e in changes(observer)] == [
        ("away", "idle", "online"), ("online", "active", "away")]
    assert changes(outsider) == []
    assert [(row.reason, row.actor_id) for row in database.ledger(5)][1:] == [("idle", 5), ("active", 5)]


def test_the_socket_event_does_the_same(connect, database):
    sio = connect(5)
    assert sio.emit("set_status", {"status": "online"}, callback=True)["ok"]

    idle = sio.emit("activity", {"idle": True}, callback=True)
    active = sio.emit("activity", {"idle": False}, callback=True)

    assert (idle["ok"], idle["presence"]["status"]) == (True, "away")
    assert (active["ok"], active["presence"]["status"]) == (True, "online")
    assert database.reasons(5)[-2:] == ["idle", "active"]


@pytest.mark.parametrize("status", ["busy", "away", "offline"])
def test_a_status_set_by_hand_is_never_changed_by_idleness(client, database, status):
    set_status(client, 5, status, "By hand")
    assert activity(client, 5, True)["status"] == status
    assert activity(client, 5, False)["status"] == status
    assert database.reasons(5) == ["manual"]


def test_a_supervisors_away_is_not_undone_by_activity(client, database):
    set_status(client, 5, "online")
    client.post("/api/v1/presence/5/set-status/", json={"status": "away"}, headers=bearer(SUP, role="supervisor"))
    assert activity(client, 5, False)["status"] == "away"
    assert database.reasons(5) == ["manual", "supervisor"]


def test_an_away_chosen_after_going_idle_stays_away(client, database):
    set_status(client, 5, "online")
    activity(client, 5, True)
    set_status(client, 5, "away", "Lunch")  # now by hand, even though the status was away already
    set_status(client, 5, "away")
    assert activity(client, 5, False)["status"] == "away"
    assert database.reasons(5) == ["manual", "idle", "manual", "manual"]


def test_repeated_reports_change_nothing_more(client, database):
    set_status(client, 5, "online")
    for _ in range(2):
        activity(client, 5, True)
    for _ in range(2):
        activity(client, 5, False)
    assert database.reasons(5) == ["manual", "idle", "active"]


def test_activity_is_a_sign_of_life_and_resumes_a_timed_out_agent(app, client, database):
    set_status(client, 5, "online", "Queue A")
    silence(app, 5)
    activity(client, 5, True)
    assert run_job(app, jobs.check_agent_presence_timeout) == 0, "the report kept the agent alive"

    silence(app, 5)
    assert run_job(app, jobs.check_agent_presence_timeout) == 1
    back = activity(client, 5, False)

    assert (back["status"], back["status_message"]) == ("online", "Queue A")
    assert database.reasons(5) == ["manual", "idle", "timeout", "resumed", "active"]


@pytest.mark.parametrize("body, field", [
    ({}, "idle"),
    ({"idle": "true"}, "idle"),
    ({"idle": 1}, "idle"),
    ({"idle": None}, "idle"),
    ({"idle": True, "since": 5}, "since"),
])
def test_bad_reports_answer_400_and_change_nothing(client, connect, body, field):
    set_status(client, 5, "online")
    sio = connect(5)
    r = client.post(ACTIVITY, json=body, headers=bearer(5))
    ack = sio.emit("activity", body, callback=True)
    assert r.status_code == 400
    for answer in (r.json, ack):
        assert answer["error"] == "validation_error" and field in answer["details"], answer
    assert status_of(client, 5) == "online"


@pytest.mark.parametrize("round_", range(3))
def test_going_idle_racing_a_manual_busy_changes_each_once_and_busy_stays(app, client, database, round_):
    set_status(client, 5, "online")
    start = threading.Barrier(2)

    def idle():
        start.wait(timeout=10)
        activity(app.test_client(), 5, True)

    def busy():
        start.wait(timeout=10)
        set_status(app.test_client(), 5, "busy")

    threads = [threading.Thread(target=idle), threading.Thread(target=busy)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert database.reasons(5) in (["manual", "manual"], ["manual", "idle", "manual"]), database.reasons(5)
    assert status_of(client, 5) == "busy"
    assert activity(client, 5, False)["status"] == "busy"


def test_idle_reports_racing_the_timeout_sweep_leave_one_transition_each(app, client, database):
    agents = list(range(20, 30))
    for sub in agents:
        set_status(client, sub, "online")
        silence(app, sub)
    start = threading.Barrier(len(agents) + 1)

    def sweep():
        with app.app_context():
            start.wait(timeout=10)
            jobs.check_agent_presence_timeout()

    def idle(sub):
        start.wait(timeout=10)
        activity(app.test_client(), sub, True)

    threads = [threading.Thread(target=sweep)] + [threading.Thread(target=idle, args=(s,)) for s in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    for sub in agents:
        # The report is a sign of life: it came first (no timeout), or it resumed the agent and then went away.
        assert database.reasons(sub) in (["manual", "idle"], ["manual", "timeout", "resumed", "idle"]), sub
        assert status_of(client, sub) == "away"


def test_the_console_reads_idle_away_seconds_from_settings(make_app):
    client = make_app(IDLE_AWAY_SECONDS=42).test_client()
    assert client.get("/api/v1/settings/", headers=bearer(5)).json == {"idle_away_seconds": 42}
    assert client.get("/api/v1/settings/").status_code == 401
