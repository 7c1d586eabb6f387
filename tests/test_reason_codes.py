"""Reason codes: the org's list, set-status with a code (REST, supervisor REST, socket), overruns announced once."""
import threading
from datetime import datetime

import pytest

from presence_app import jobs
from presence_app.models import ReasonCode

from .inprocess import backdate, changes, count, data_of, drain, run_job
from .support import bearer, envelope_of

CODES = "/api/v1/reason-codes/"
SET_STATUS = "/api/v1/presence/set-status/"
LUNCH = {"code": "lunch", "label": "Lunch", "statuses": ["away"], "max_minutes": 60}
MEETING = {"code": "meeting", "label": "Team meeting", "statuses": ["busy", "away"], "max_minutes": None}
SUP = 90


def put_codes(client, codes, sub=SUP, role="supervisor", org=None):
    return client.put(CODES, json={"codes": codes}, headers=bearer(sub, role=role, org=org))


def set_status(client, sub, body, **claims):
    return client.post(SET_STATUS, json=body, headers=bearer(sub, **claims))


@pytest.fixture
def codes(client):
    """The default org's codes: lunch (away, 60 min) and meeting (busy or away)."""
    r = put_codes(client, [LUNCH, MEETING])
    assert r.status_code == 200, r.json
    return r.json["codes"]


def ledger_codes(database, agent_id):
    return [(row.to_status, row.reason_code) for row in database.ledger(agent_id)]


# the list


def test_an_org_starts_with_no_codes_and_a_supervisor_replaces_the_whole_list(client):
    assert client.get(CODES, headers=bearer(1)).json == {"codes": []}

    r = put_codes(client, [MEETING, LUNCH])
    assert r.status_code == 200
    assert r.json == {"codes": [MEETING, LUNCH]}
    assert client.get(CODES, headers=bearer(1)).json == {"codes": [MEETING, LUNCH]}, "everyone reads them"

    assert put_codes(client, [dict(LUNCH, label="Lunch break")]).json == {"codes": [dict(LUNCH, label="Lunch break")]}
    assert put_codes(client, []).json == {"codes": []}


def test_max_minutes_is_optional(client):
    r = put_codes(client, [{"code": "training", "label": "Training", "statuses": ["busy"]}])
    assert r.json["codes"] == [{"code": "training", "label": "Training", "statuses": ["busy"], "max_minutes": None}]


def test_fifty_codes_are_accepted(client):
    many = [{"code": f"c{i}", "label": f"Code {i}", "statuses": ["away"]} for i in range(50)]
    assert len(put_codes(client, many).json["codes"]) == 50


def test_agents_may_not_replace_the_list(client, codes):
    r = put_codes(client, [], sub=1, role=None)
    assert (r.status_code, r.json["error"]) == (403, "forbidden")
    assert client.get(CODES, headers=bearer(1)).json["codes"] == codes


def test_each_org_has_its_own_list(client, codes):
    assert client.get(CODES, headers=bearer(7, org="other")).json == {"codes": []}
    put_codes(client, [dict(LUNCH, label="Almoço")], sub=8, org="other")
    assert client.get(CODES, headers=bearer(7, org="other")).json["codes"] == [dict(LUNCH, label="Almoço")]
    assert client.get(CODES, headers=bearer(1)).json["codes"] == codes


@pytest.mark.parametrize("codes, field", [
    ([dict(LUNCH, code="")], "code"),
    ([dict(LUNCH, code="x" * 33)], "code"),
    ([dict(LUNCH, code="lunch break")], "code"),
    ([dict(LUNCH, code="almoço")], "code"),
    ([dict(LUNCH, code=5)], "code"),
    ([dict(LUNCH, label="")], "label"),
    ([dict(LUNCH, label="x" * 65)], "label"),
    ([dict(LUNCH, label="Lunch\n")], "label"),
    ([dict(LUNCH, label=None)], "label"),
    ([dict(LUNCH, statuses=[])], "statuses"),
    ([dict(LUNCH, statuses=["lunch"])], "statuses"),
    ([dict(LUNCH, statuses=["away", "away"])], "statuses"),
    ([dict(LUNCH, statuses="away")], "statuses"),
    ([dict(LUNCH, max_minutes=0)], "max_minutes"),
    ([dict(LUNCH, max_minutes=1441)], "max_minutes"),
    ([dict(LUNCH, max_minutes="60")], "max_minutes"),
    ([dict(LUNCH, max_minutes=60.5)], "max_minutes"),
    ([dict(LUNCH, max_minutes=True)], "max_minutes"),
    ([dict(LUNCH, colour="red")], "colour"),
    ([{k: v for k, v in LUNCH.items() if k != "statuses"}], "statuses"),
    ([LUNCH, dict(MEETING, code="lunch")], "codes"),
    ([{"code": f"c{i}", "label": "x", "statuses": ["away"]} for i in range(51)], "codes"),
    ("lunch", "codes"),
])
def test_bad_lists_answer_400_and_change_nothing(client, codes, field):
    put_codes(client, [MEETING])
    r = put_codes(client, codes)
    assert r.status_code == 400, r.json
    assert r.json["error"] == "validation_error"
    assert field in str(r.json["details"]), r.json
    assert client.get(CODES, headers=bearer(1)).json["codes"] == [MEETING]


def test_a_body_without_codes_or_with_unknown_fields_is_refused(client):
    headers = bearer(SUP, role="supervisor")
    assert client.put(CODES, json={}, headers=headers).status_code == 400
    assert client.put(CODES, json={"codes": [], "org": "other"}, headers=headers).status_code == 400
    assert client.get(CODES, query_string={"org": "other"}, headers=headers).status_code == 400


# set-status with a reason code


def test_a_code_travels_in_the_presence_object_the_event_and_the_ledger(client, connect, codes, database):
    observer = connect(SUP, role="supervisor")
    drain(observer)

    r = set_status(client, 5, {"status": "away", "message": "Back at 2", "reason_code": "lunch"})

    assert r.status_code == 200, r.json
    assert (r.json["status"], r.json["reason_code"]) == ("away", "lunch")
    (event,) = changes(observer)
    assert (event["status"], event["message"], event["reason_code"], event["reason"]) == (
        "away", "Back at 2", "lunch", "manual")
    assert ledger_codes(database, 5) == [("away", "lunch")]
    assert client.get("/api/v1/presence/5/", headers=bearer(1)).json["reason_code"] == "lunch"


def test_changing_only_the_code_is_a_change_and_dropping_it_clears_it(client, connect, codes, database):
    set_status(client, 5, {"status": "away", "reason_code": "lunch"})
    observer = connect(SUP, role="supervisor")
    drain(observer)

    moved = set_status(client, 5, {"status": "away", "reason_code": "meeting"}).json
    cleared = set_status(client, 5, {"status": "away"}).json
    same = set_status(client, 5, {"status": "away", "reason_code": None}).json

    assert (moved["reason_code"], cleared["reason_code"], same["reason_code"]) == ("meeting", None, None)
    assert [(e["reason_code"], e["seq"]) for e in changes(observer)] == [("meeting", 2), (None, 3)]
    assert same["seq"] == 3, "no change, no event"
    assert ledger_codes(database, 5) == [("away", "lunch"), ("away", "meeting"), ("away", None)]


def test_a_socket_set_status_carries_a_code(connect, codes, database):
    sio = connect(5)
    ack = sio.emit("set_status", {"status": "busy", "reason_code": "meeting"}, callback=True)
    assert ack["ok"] is True, ack
    assert (ack["presence"]["status"], ack["presence"]["reason_code"]) == ("busy", "meeting")
    assert ledger_codes(database, 5)[-1] == ("busy", "meeting")


def test_a_supervisor_forces_a_status_with_a_code(client, codes, database):
    client.get("/api/v1/presence/me/", headers=bearer(5))  # agent 5 exists once its token was seen
    r = client.post("/api/v1/presence/5/set-status/", json={"status": "away", "message": "Coaching",
                                                            "reason_code": "meeting"},
                    headers=bearer(SUP, role="supervisor"))
    assert r.status_code == 200, r.json
    (row,) = database.ledger(5)
    assert (row.to_status, row.reason_code, row.reason, row.actor_id) == ("away", "meeting", "supervisor", SUP)


@pytest.mark.parametrize("body, message", [
    ({"status": "away", "reason_code": "holiday"}, "is not one of your org's reason codes"),
    ({"status": "busy", "reason_code": "lunch"}, "is not allowed for status busy"),
    ({"status": "away", "reason_code": "lunch break"}, "must be 1-32 characters"),
    ({"status": "away", "reason_code": ""}, "must be 1-32 characters"),
    ({"status": "away", "reason_code": 7}, "must be a string"),
])
def test_a_code_the_org_does_not_allow_for_the_status_is_a_400_that_changes_nothing(client, connect, codes, body,
                                                                                    message):
    sio = connect(5)
    r = set_status(client, 5, body)
    ack = sio.emit("set_status", body, callback=True)
    supervised = client.post("/api/v1/presence/5/set-status/", json=body, headers=bearer(SUP, role="supervisor"))

    for answer in (r.json, ack, supervised.json):
        assert answer["error"] == "validation_error"
        assert message in answer["details"]["reason_code"][0]
    assert (r.status_code, supervised.status_code) == (400, 400)
    me = client.get("/api/v1/presence/me/", headers=bearer(5)).json
    assert (me["status"], me["reason_code"], me["seq"]) == ("offline", None, 1)  # seq 1: the socket connected


def test_another_orgs_code_is_unknown(client, codes):
    r = set_status(client, 7, {"status": "away", "reason_code": "lunch"}, org="other")
    assert r.status_code == 400
    assert "is not one of your org's reason codes" in r.json["message"]


# overruns


def test_an_overrun_is_announced_once_to_the_orgs_supervisors_only(app, client, connect, codes):
    supervisor, agent = connect(SUP, role="supervisor"), connect(6)
    other_supervisor = connect(91, role="supervisor", org="other")
    put_codes(client, [LUNCH], sub=91, org="other")
    set_status(client, 5, {"status": "away", "message": "Lunch", "reason_code": "lunch"}, name="Ana")
    set_status(client, 7, {"status": "away", "reason_code": "lunch"}, org="other")
    assert run_job(app, jobs.announce_status_overruns) == 0, "not yet"
    for sio in (supervisor, agent, other_supervisor):
        drain(sio)

    backdate(app, 5, code_since=60 * 60 + 1)
    assert run_job(app, jobs.announce_status_overruns) == 1
    assert run_job(app, jobs.announce_status_overruns) == 0

    (overrun,) = data_of(drain(supervisor), "agent_status_overrun")
    me = client.get("/api/v1/presence/5/", headers=bearer(1)).json
    assert overrun == {"agent_id": 5, "name": "Ana", "status": "away", "reason_code": "lunch",
                       "since": overrun["since"], "max_minutes": 60}
    lasted = datetime.fromisoformat(me["status_changed_at"]) - datetime.fromisoformat(overrun["since"])
    assert 3600 <= lasted.total_seconds() <= 3602, "since: when the code was applied"
    assert data_of(drain(agent), "agent_status_overrun") == []
    assert data_of(drain(other_supervisor), "agent_status_overrun") == []


def test_a_new_message_keeps_the_overrun_announced_and_a_new_code_rearms_it(app, client, connect, codes):
    supervisor = connect(SUP, role="supervisor")
    set_status(client, 5, {"status": "away", "reason_code": "lunch"})
    backdate(app, 5, code_since=3601)
    assert run_job(app, jobs.announce_status_overruns) == 1

    set_status(client, 5, {"status": "away", "message": "Almost back", "reason_code": "lunch"})
    assert run_job(app, jobs.announce_status_overruns) == 0, "the same status and code: already announced"

    put_codes(client, [LUNCH, dict(MEETING, max_minutes=30)])
    set_status(client, 5, {"status": "away", "reason_code": "meeting"})
    backdate(app, 5, code_since=30 * 60 + 1)
    assert run_job(app, jobs.announce_status_overruns) == 1
    overruns = [(d["reason_code"], d["max_minutes"]) for d in data_of(drain(supervisor), "agent_status_overrun")]
    assert overruns == [("lunch", 60), ("meeting", 30)]


def test_a_code_without_max_minutes_or_a_status_changed_in_time_never_overruns(app, client, codes):
    set_status(client, 5, {"status": "busy", "reason_code": "meeting"})
    set_status(client, 6, {"status": "away", "reason_code": "lunch"})
    backdate(app, 5, code_since=24 * 3600)
    set_status(client, 6, {"status": "online"})
    backdate(app, 6, code_since=3601)
    assert run_job(app, jobs.announce_status_overruns) == 0


def test_concurrent_overrun_sweeps_announce_each_overrun_once(app, client, connect, codes):
    supervisor = connect(SUP, role="supervisor")
    agents = list(range(20, 30))
    for sub in agents:
        set_status(client, sub, {"status": "away", "reason_code": "lunch"})
        backdate(app, sub, code_since=3601)
    start, counts = threading.Barrier(4), []

    def sweeper():
        with app.app_context():
            start.wait(timeout=10)
            counts.append(jobs.announce_status_overruns())

    threads = [threading.Thread(target=sweeper) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(counts) == 4 and sum(counts) == len(agents), counts  # each overrun by exactly one sweep
    announced = [envelope_of(m["args"][0], "agent_status_overrun")["agent_id"] for m in supervisor.get_received()
                 if m["name"] == "agent_status_overrun"]
    assert sorted(announced) == agents


def test_replacing_the_codes_leaves_the_ledger_alone(app, client, codes):
    set_status(client, 5, {"status": "away", "reason_code": "lunch"})
    put_codes(client, [])
    assert client.get("/api/v1/presence/me/", headers=bearer(5)).json["reason_code"] == "lunch"
    backdate(app, 5, code_since=3601)
    assert run_job(app, jobs.announce_status_overruns) == 0, "a code that no longer exists has no limit"
    assert count(app, ReasonCode) == 0
