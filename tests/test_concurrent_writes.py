"""Writes two requests can race on, sent at once to a real web process: never a 500, never a mix of two writes.

On PostgreSQL (READ COMMITTED) a list replaced by DELETE then INSERT lets a second DELETE miss the
first's INSERT; on SQLite writers take turns anyway, so these fail only on PostgreSQL without the fix.
"""
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from .inprocess import seat
from .support import bearer

pytestmark = pytest.mark.processes

PARALLEL = 12
SUPERVISOR = bearer(90, role="supervisor", exp_in=3600)
SERVICE = bearer("platform-backend", role="service", name=None, exp_in=3600)
BREAKS = [{"code": "lunch", "label": "Lunch", "statuses": ["away"], "max_minutes": 60},
          {"code": "coaching", "label": "Coaching", "statuses": ["busy"], "max_minutes": None}]
TRAINING = [{"code": "training", "label": "Training", "statuses": ["busy", "away"], "max_minutes": 30}]


@pytest.fixture
def url(processes):
    return processes.web(API_RATE_LIMIT="100000 per second")[1]


def at_once(calls):
    """Send every (method, url, kwargs) call at the same moment; answer (status, json) in order."""
    def send(call):
        method, address, kwargs = call
        answer = requests.request(method, address, timeout=60, **kwargs)
        return answer.status_code, answer.json()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(send, calls))


def replace_codes(url, codes):
    return "PUT", f"{url}/api/v1/reason-codes/", {"json": {"codes": codes}, "headers": SUPERVISOR}


def test_parallel_replacements_of_the_reason_codes_with_one_list_all_answer_it(url, database):
    for _ in range(3):
        answers = at_once([replace_codes(url, BREAKS)] * PARALLEL)
        assert [status for status, _ in answers] == [200] * PARALLEL, answers
        assert all(body == {"codes": BREAKS} for _, body in answers), answers
        assert database.rows("SELECT code FROM reason_codes ORDER BY position") == [("lunch",), ("coaching",)]


def test_parallel_replacements_with_two_lists_leave_one_of_them_whole_never_a_mix(url, database):
    lists = {"lunch coaching": BREAKS, "training": TRAINING}
    answers = at_once([replace_codes(url, (BREAKS, TRAINING)[n % 2]) for n in range(PARALLEL)])
    assert [status for status, _ in answers] == [200] * PARALLEL, answers
    assert all(body["codes"] in lists.values() for _, body in answers), answers
    stored = " ".join(code for code, in database.rows("SELECT code FROM reason_codes ORDER BY position"))
    assert stored in lists


def test_parallel_requests_with_a_new_teams_claim_move_the_teams_once(url, database):
    me = f"{url}/api/v1/presence/me/"
    assert requests.get(me, headers=bearer(5, teams=["sales"]), timeout=10).status_code == 200
    answers = at_once([("GET", me, {"headers": bearer(5, teams=["billing", "vip"])})] * PARALLEL)
    assert {status for status, _ in answers} == {200}, answers
    assert database.reasons(5).count("profile") == 1, database.reasons(5)
    assert database.rows("SELECT team FROM agent_teams WHERE agent_id = 5 ORDER BY team") == [("billing",), ("vip",)]

    # Two claims racing: the team rows always agree with the presence row's teams.
    at_once([("GET", me, {"headers": bearer(5, teams=[("north", "south")[n % 2]])}) for n in range(PARALLEL)])
    (teams,), = database.rows("SELECT teams FROM presence WHERE agent_id = 5")
    assert database.rows("SELECT team FROM agent_teams WHERE agent_id = 5") == [(teams,)]


def test_parallel_loads_assigns_and_releases_of_one_agent_never_answer_500(url, make_app, database):
    seat(make_app(), [5], capacity=50)
    load = f"{url}/api/v1/presence/5/load/"
    calls = [("PUT", load, {"json": {"open_chats": n, "capacity": 50}, "headers": SERVICE}) for n in range(4)]
    calls += [("POST", f"{url}/api/v1/routing/assign/", {"json": {"chat_id": f"c{n % 4}"}, "headers": SERVICE})
              for n in range(PARALLEL)]
    calls += [("POST", f"{url}/api/v1/routing/release/", {"json": {"chat_id": "c0"}, "headers": SERVICE})] * 4
    answers = at_once(calls)
    assert {status for status, _ in answers} <= {200, 404}, answers  # 404: a release before its assign
    (open_chats, capacity, spare), = database.rows("SELECT open_chats, capacity, spare FROM presence")
    assert spare == capacity - open_chats and 0 <= open_chats <= capacity
    assert len(database.rows("SELECT chat_id FROM chat_assignments WHERE released_at IS NULL")) <= 4


def test_parallel_webhook_registrations_past_the_limit_make_exactly_the_twentieth(url, database):
    hooks = f"{url}/api/v1/webhooks/"
    for n in range(19):
        made = requests.post(hooks, json={"url": f"https://1.1.1.1/hook-{n}"}, headers=SERVICE, timeout=10)
        assert made.status_code == 201, made.json()
    for _ in range(10):  # the first rounds, with a cold process, seldom overlap (without turns 3 of 10 did not)
        answers = at_once([("POST", hooks, {"json": {"url": f"https://1.1.1.1/late-{n}"}, "headers": SERVICE})
                           for n in range(PARALLEL)])
        assert sorted(status for status, _ in answers) == [201] + [403] * (PARALLEL - 1), answers
        assert {body["error"] for status, body in answers if status == 403} == {"limit_exceeded"}
        assert database.rows("SELECT count(*) FROM webhook_endpoints WHERE NOT deleted") == [(20,)]
        [made] = [body for status, body in answers if status == 201]
        assert requests.delete(f"{hooks}{made['id']}/", headers=SERVICE, timeout=10).status_code == 200
