"""Dates at the edges of the calendar: every date the API takes answers a 4xx when out of range, never a 500.

Instants are ISO 8601 in the years 1000 to 8999 (the year 9999 overflowed a day's arithmetic);
a token's `exp` must fall before the year 9000; a sync cursor past the year 2286 is unknown.
"""
import pytest

from .support import assert_error, bearer, token

SUPERVISOR = 90
REPORT = "/api/v1/reports/time-in-status/"
HISTORY = f"/api/v1/presence/{SUPERVISOR}/history/"
EDGES = [("9999-12-31T12:00:00Z", "9999-12-31T13:00:00Z"), ("9998-12-31T00:00:00Z", "9999-01-01T00:00:00Z"),
         ("0001-01-01T00:00:00+05:00", "0001-01-01T10:00:00Z"), ("0999-12-31T00:00:00Z", "1000-01-01T00:00:00Z")]


def ask(client, path, since, until, **more):
    return client.get(path, query_string={"since": since, "until": until, **more},
                      headers=bearer(SUPERVISOR, role="supervisor"))


@pytest.mark.parametrize("since, until", EDGES)
@pytest.mark.parametrize("path, more", [(REPORT, {}), (REPORT, {"group_by": "day", "format": "csv"}), (HISTORY, {})])
def test_instants_outside_the_years_1000_to_8999_answer_400(client, path, more, since, until):
    answer = ask(client, path, since, until, **more)
    assert_error(answer, 400, "validation_error")
    assert "must be in the years 1000 to 8999" in answer.json["message"]


@pytest.mark.parametrize("path", [REPORT, HISTORY])
def test_the_first_and_last_days_of_the_range_are_served(client, path):
    for since, until in (("1000-01-01T00:00:00+14:00", "1000-01-02T00:00:00Z"),
                         ("8999-12-31T00:00:00Z", "8999-12-31T23:59:59-12:00")):
        answer = ask(client, path, since, until, **({"group_by": "day"} if path == REPORT else {}))
        assert answer.status_code == 200, answer.json


@pytest.mark.parametrize("until", ["9999-12-31T12:00:00Z", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00"])
def test_a_set_status_until_out_of_range_answers_400_over_rest_and_socket(client, connect, until):
    sio = connect(5)
    answer = client.post("/api/v1/presence/set-status/", json={"status": "busy", "until": until}, headers=bearer(5))
    ack = sio.emit("set_status", {"status": "busy", "until": until}, callback=True)
    assert_error(answer, 400, "validation_error")
    for refusal in (answer.json, ack):
        assert refusal["details"] == {"until": ["must be in the years 1000 to 8999"]}, refusal


def test_a_token_expiring_after_the_year_9000_is_a_401_over_rest_and_socket(client, connect):
    far = 10**20  # seconds from now: past what a time can be written as
    answer = client.get("/api/v1/presence/me/", headers=bearer(5, exp_in=far))
    assert_error(answer, 401, "unauthorized")
    sio = connect(5)
    ack = sio.emit("refresh_token", {"token": token(5, exp_in=far)}, callback=True)
    assert (ack["ok"], ack["error"]) == (False, "unauthorized"), ack
    assert sio.emit("refresh_token", {"token": token(5, exp_in=3600)}, callback=True)["ok"]


def test_a_sync_cursor_past_the_year_2286_is_unknown_and_answers_in_full(connect):
    sio = connect(5)
    ack = sio.emit("sync", {"since": "v1.999999999999999"}, callback=True)
    assert ack["ok"] and ack["full"] is True, ack
