"""Time in status from the ledger: a hand-computed timeline, by agent and by UTC day, JSON and CSV, who sees what.

The timeline crosses both range edges and two UTC midnights, holds a timeout and a resume, a
socket change inside one status, an agent with no change at all and one whose first change is
inside the range. It runs on whichever database the suite runs on (SQLite, or PostgreSQL with
DATABASE_URL), and must give the same numbers on both.
"""
import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from presence_app.extensions import db
from presence_app.models import ReportDay, ReportRollup
from presence_app.services import reports
from presence_app.services.identity import Identity

from .inprocess import record
from .support import bearer

REPORT = "/api/v1/reports/time-in-status/"
H = 3600
D1 = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0) - timedelta(days=5)
D0, D2 = D1 - timedelta(days=1), D1 + timedelta(days=1)
SINCE, UNTIL = D0 + timedelta(hours=23), D2 + timedelta(hours=6)  # 31 hours
ANA, JOAO, BRUNO, OUTSIDER, SUPERVISOR = 1, 2, 3, 4, 50


def at(day, hours):
    return day + timedelta(hours=hours)


def z(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(params=["ledger", "rolled up"])
def timeline(request, app, client):
    """Ana's day as the ledger saw it; João never changed; Bruno's first change is inside the range.

    Run twice: read from the ledger alone, and with every closed day rolled up into report days
    (the range then reads D1 from report days, its edges from the ledger).
    """
    record(app, ANA, [
        (at(D0, 8), "offline", "online", True, "manual", None),
        (at(D0, 22), "online", "busy", True, "manual", "meeting"),  # the state at `since`
        (at(D1, 1), "busy", "away", True, "manual", "lunch"),
        (at(D1, 1.5), "away", "away", False, "disconnected", "lunch"),  # the socket changes, not the status
        (at(D1, 2), "away", "offline", False, "timeout", None),
        (at(D1, 3), "offline", "away", False, "resumed", "lunch"),
        (at(D1, 4), "away", "online", True, "manual", None),  # still running at `until`
    ], name="Ana")
    record(app, JOAO, [], name="João")
    record(app, BRUNO, [(at(D1, 12), "offline", "online", True, "manual", None)], name="Bruno")
    record(app, OUTSIDER, [(at(D1, 12), "offline", "busy", True, "manual", None)], org="other")
    if request.param == "rolled up":
        assert roll_up(app) == days_closed_since(D0)
    return app


def roll_up(app, batch=reports.ROLL_UP_DAYS):
    with app.app_context():
        return reports.roll_up(batch)


def last_closed():
    """The last UTC day a roll-up may write now: yesterday, or the day before in the first minutes of a day."""
    moment = datetime.now(UTC).replace(tzinfo=None) - reports.ROLL_UP_MARGIN
    return moment.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)


def days_closed_since(first):
    return (last_closed() - first).days + 1


def report(client, sub=SUPERVISOR, role="supervisor", org=None, name=None, **query):
    query = {"since": z(SINCE), "until": z(UNTIL), **query}
    return client.get(REPORT, query_string=query, headers=bearer(sub, role=role, org=org, name=name))


def seconds(online=0, busy=0, away=0, offline=0):
    return {"online": online, "busy": busy, "away": away, "offline": offline}


ANA_ROW = {"agent_id": ANA, "name": "Ana", "seconds": seconds(online=26 * H, busy=2 * H, away=2 * H, offline=H),
           "available_seconds": 26 * H, "by_reason_code": {"meeting": 2 * H, "lunch": 2 * H}}
JOAO_ROW = {"agent_id": JOAO, "name": "João", "seconds": seconds(offline=31 * H), "available_seconds": 0,
            "by_reason_code": {}}
BRUNO_ROW = {"agent_id": BRUNO, "name": "Bruno", "seconds": seconds(online=18 * H, offline=13 * H),
             "available_seconds": 18 * H, "by_reason_code": {}}
SUPERVISOR_ROW = dict(JOAO_ROW, agent_id=SUPERVISOR, name=f"Agent {SUPERVISOR}")  # created by its first call


def test_by_agent_counts_each_status_from_since_to_until_across_a_timeout_and_resume(timeline, client):
    r = report(client)

    assert r.status_code == 200, r.json
    assert r.json == {"rows": [ANA_ROW, JOAO_ROW, BRUNO_ROW, SUPERVISOR_ROW], "since": z(SINCE), "until": z(UNTIL)}
    assert [list(row) for row in r.json["rows"]][0] == ["agent_id", "name", "seconds", "available_seconds",
                                                        "by_reason_code"]
    assert list(r.json["rows"][0]["seconds"]) == ["online", "busy", "away", "offline"]


def test_by_day_splits_spans_at_utc_midnight(timeline, client):
    r = report(client, group_by="day")

    assert r.status_code == 200, r.json
    days = [day.strftime("%Y-%m-%d") for day in (D0, D1, D2)]

    def row(agent, name, day, secs, available=0, codes=None):
        return {"agent_id": agent, "name": name, "day": day, "seconds": secs, "available_seconds": available,
                "by_reason_code": codes or {}}

    assert r.json["rows"] == [
        row(ANA, "Ana", days[0], seconds(busy=H), codes={"meeting": H}),
        row(ANA, "Ana", days[1], seconds(online=20 * H, busy=H, away=2 * H, offline=H), 20 * H,
            {"meeting": H, "lunch": 2 * H}),
        row(ANA, "Ana", days[2], seconds(online=6 * H), 6 * H),
        row(JOAO, "João", days[0], seconds(offline=H)),
        row(JOAO, "João", days[1], seconds(offline=24 * H)),
        row(JOAO, "João", days[2], seconds(offline=6 * H)),
        row(BRUNO, "Bruno", days[0], seconds(offline=H)),
        row(BRUNO, "Bruno", days[1], seconds(online=12 * H, offline=12 * H), 12 * H),
        row(BRUNO, "Bruno", days[2], seconds(online=6 * H), 6 * H),
        row(SUPERVISOR, "Agent 50", days[0], seconds(offline=H)),
        row(SUPERVISOR, "Agent 50", days[1], seconds(offline=24 * H)),
        row(SUPERVISOR, "Agent 50", days[2], seconds(offline=6 * H)),
    ]


def test_a_change_exactly_at_since_and_at_midnight_opens_no_phantom_time(app, client):
    record(app, ANA, [(SINCE, "offline", "busy", False, "manual", None), (D1, "busy", "online", True, "manual", None)])

    rows = report(client, group_by="day", agent_id=ANA).json["rows"]

    assert [(r["day"], r["seconds"], r["available_seconds"]) for r in rows] == [
        (D0.strftime("%Y-%m-%d"), seconds(busy=H), 0),
        (D1.strftime("%Y-%m-%d"), seconds(online=24 * H), 24 * H),
        (D2.strftime("%Y-%m-%d"), seconds(online=6 * H), 6 * H),
    ]


def test_a_status_still_running_counts_until_now_when_until_is_later(app, client):
    client.get("/api/v1/presence/me/", headers=bearer(ANA))  # Ana exists, and has no change yet
    now = datetime.now(UTC).replace(tzinfo=None)
    record(app, ANA, [(now - timedelta(seconds=600), "offline", "online", False, "manual", None)])
    since, until = now - timedelta(hours=1), now + timedelta(hours=1)

    r = client.get(REPORT, query_string={"since": z(since), "until": z(until), "agent_id": ANA},
                   headers=bearer(SUPERVISOR, role="supervisor"))

    (row,) = r.json["rows"]
    assert 600 <= row["seconds"]["online"] <= 600 + 30
    assert abs(row["seconds"]["offline"] - 3000) <= 1
    assert row["available_seconds"] == 0
    assert r.json["until"] == z(until)


def test_the_same_answer_as_csv_with_one_column_per_status_and_reason_code(timeline, client):
    r = report(client, format="csv")

    assert r.status_code == 200
    assert r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    lines = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert lines[0] == ["agent_id", "name", "online", "busy", "away", "offline", "available_seconds",
                        "reason_code:lunch", "reason_code:meeting"]
    assert lines[1:] == [
        [str(ANA), "Ana", str(26 * H), str(2 * H), str(2 * H), str(H), str(26 * H), str(2 * H), str(2 * H)],
        [str(JOAO), "João", "0", "0", "0", str(31 * H), "0", "0", "0"],
        [str(BRUNO), "Bruno", str(18 * H), "0", "0", str(13 * H), str(18 * H), "0", "0"],
        [str(SUPERVISOR), "Agent 50", "0", "0", "0", str(31 * H), "0", "0", "0"],
    ]


def test_csv_by_day_has_a_day_column_and_keeps_formula_like_names_as_text(app, client):
    record(app, 7, [], name="=HYPERLINK(1)")

    lines = list(csv.reader(io.StringIO(report(client, format="csv", group_by="day").get_data(as_text=True))))

    assert lines[0][:3] == ["agent_id", "name", "day"]
    assert [line[1:3] for line in lines[1:]] == [["'=HYPERLINK(1)", d.strftime("%Y-%m-%d")] for d in (D0, D1, D2)] + [
        ["Agent 50", d.strftime("%Y-%m-%d")] for d in (D0, D1, D2)]


def test_a_supervisor_may_ask_for_one_agent_of_the_org(timeline, client):
    assert report(client, agent_id=ANA).json["rows"] == [ANA_ROW]


def test_an_agent_gets_its_own_row_only_and_a_colleagues_is_forbidden(timeline, client):
    assert report(client, sub=ANA, role=None, name="Ana").json["rows"] == [ANA_ROW]
    assert report(client, sub=ANA, role=None, name="Ana", agent_id=ANA).json["rows"] == [ANA_ROW]
    r = report(client, sub=ANA, role=None, name="Ana", agent_id=JOAO)
    assert (r.status_code, r.json["error"]) == (403, "forbidden")


def test_another_orgs_agents_are_neither_counted_nor_found(timeline, client):
    assert OUTSIDER not in [row["agent_id"] for row in report(client).json["rows"]]
    assert report(client, agent_id=OUTSIDER).status_code == 404
    assert report(client, sub=ANA, role=None, name="Ana", agent_id=OUTSIDER).status_code == 404
    theirs = report(client, sub=60, org="other")
    assert [row["agent_id"] for row in theirs.json["rows"]] == [OUTSIDER, 60]
    assert report(client, sub=60, org="other", agent_id=ANA).status_code == 404


def test_an_empty_range_since_equal_to_until_counts_no_seconds(timeline, client):
    # Found by schemathesis: since = until is a valid query by the document; it covers no time.
    query = {"since": z(SINCE), "until": z(SINCE)}
    r = client.get(REPORT, query_string=query, headers=bearer(SUPERVISOR, role="supervisor"))
    assert r.status_code == 200, r.json
    assert r.json["rows"] and all(set(row["seconds"].values()) == {0} for row in r.json["rows"]), r.json


@pytest.mark.parametrize("query, field", [
    ({"since": None}, "since"),
    ({"until": None}, "until"),
    ({"since": "2025-10-11T21:00:00"}, "since"),  # no offset
    ({"since": "2025-10-11"}, "since"),
    ({"since": "yesterday"}, "since"),
    ({"until": "2025-10-11T21:00:00+25:00"}, "until"),
    ({"since": z(UNTIL), "until": z(SINCE)}, "until"),  # since after until
    ({"since": z(SINCE - timedelta(days=31, seconds=1)), "until": z(SINCE)}, "until"),  # over 31 days
    ({"group_by": "week"}, "group_by"),
    ({"format": "xml"}, "format"),
    ({"agent_id": "abc"}, "agent_id"),
    ({"agent_id": "0"}, "agent_id"),
    ({"agent_id": str(2**63)}, "agent_id"),
    ({"status": "busy"}, "status"),  # unknown parameter
])
def test_bad_queries_answer_400_in_the_envelope(timeline, client, query, field):
    params = {"since": z(SINCE), "until": z(UNTIL), **query}
    params = {key: value for key, value in params.items() if value is not None}
    r = client.get(REPORT, query_string=params, headers=bearer(SUPERVISOR, role="supervisor"))
    assert r.status_code == 400, r.json
    assert r.json["error"] == "validation_error"
    assert field in r.json["details"]


def test_a_31_day_range_with_an_offset_is_accepted(timeline, client):
    since = "2025-10-01T00:00:00-03:00"
    r = client.get(REPORT, query_string={"since": since, "until": "2025-11-01T00:00:00-03:00"},
                   headers=bearer(SUPERVISOR, role="supervisor"))
    assert r.status_code == 200, r.json
    assert (r.json["since"], r.json["until"]) == ("2025-10-01T03:00:00Z", "2025-11-01T03:00:00Z")


def test_a_range_in_the_first_century_allowed_answers_four_digit_years(app, client):
    # Found by tests/test_openapi.py: strftime wrote the year 316 as "316"; instants now start at the year 1000.
    query = {"since": "1016-03-31T03:23:30Z", "until": "1016-04-01T05:14:04Z", "group_by": "day"}
    answer = client.get(REPORT, query_string=query, headers=bearer(SUPERVISOR, role="supervisor"))
    assert answer.status_code == 200, answer.get_json()
    report = answer.get_json()
    assert (report["since"], report["until"]) == (query["since"], query["until"])
    assert [row["day"] for row in report["rows"]] == ["1016-03-31", "1016-04-01"]


def test_roll_up_writes_each_closed_day_once_and_never_today(app):
    today = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    record(app, ANA, [(at(D1, 8), "offline", "busy", True, "manual", None),
                      (today + timedelta(seconds=1), "busy", "online", True, "manual", None)])

    closed = days_closed_since(D1)
    assert roll_up(app) == closed  # D1 to yesterday (never today)
    with app.app_context():
        days = db.session.execute(select(ReportDay.day, ReportDay.status, ReportDay.seconds)
                                  .order_by(ReportDay.day)).all()
        assert db.session.scalar(select(ReportRollup.through)) == last_closed()
    # Busy from 08:00 of D1 on; offline without a code is the rest of each day, never written.
    assert days == [(D1, "busy", 16 * H)] + [(D1 + timedelta(days=n), "busy", 24 * H) for n in range(1, closed)]
    assert roll_up(app) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReportDay)) == len(days)


def test_a_rolled_up_day_is_read_from_report_days_not_the_ledger(timeline, app, client):
    roll_up(app)
    with app.app_context():
        db.session.execute(update(ReportDay).where(ReportDay.agent_id == ANA, ReportDay.day == D1,
                                                   ReportDay.status == "busy").values(seconds=ReportDay.seconds + 60))
        db.session.commit()

    (ana,) = [row for row in report(client).json["rows"] if row["agent_id"] == ANA]

    assert (ana["seconds"]["busy"], ana["seconds"]["offline"]) == (2 * H + 60, H - 60)
    assert ana["by_reason_code"]["meeting"] == 2 * H + 60


def test_a_report_is_the_same_after_each_day_of_a_partial_roll_up(app):
    record(app, ANA, [(at(D0, 8), "offline", "online", True, "manual", None),
                      (at(D0, 22), "online", "busy", True, "manual", "meeting"),
                      (at(D1, 1), "busy", "away", True, "manual", "lunch"),
                      (at(D2, 3), "away", "online", False, "manual", None)], name="Ana")
    record(app, BRUNO, [(at(D1, 12), "offline", "online", True, "manual", None)], name="Bruno")
    # Ranges starting mid-day and at a midnight (a state carried into a rolled-up first day).
    ranges = [(SINCE, UNTIL), (D1, UNTIL), (D0, D2), (at(D1, 6), at(D2, 6))]

    supervisor = Identity(SUPERVISOR, "Sue", "default", "supervisor")

    def answers():  # from the service: more calls than the API's rate limit lets through in a second
        with app.app_context():
            return [reports.time_in_status(supervisor, since, until, group_by=group_by)
                    for since, until in ranges for group_by in ("agent", "day")]

    expected = answers()
    for _ in range(days_closed_since(D0)):  # one a pass
        assert roll_up(app, batch=1) == 1
        assert answers() == expected
    assert roll_up(app, batch=1) == 0


def test_with_no_ledger_yet_the_roll_up_marks_every_closed_day_written(app):
    assert roll_up(app) == 0
    with app.app_context():
        assert db.session.scalar(select(ReportRollup.through)) == last_closed()
        assert db.session.scalar(select(func.count()).select_from(ReportDay)) == 0
