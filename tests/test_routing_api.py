"""Routing: load, candidates in their order, assign and release (idempotent, never past capacity), and who may."""
import threading
from collections import Counter

import pytest
from sqlalchemy import func, select, update

from presence_app.dbtime import seconds_ago
from presence_app.extensions import db
from presence_app.models import ChatAssignment, Presence
from presence_app.services import routing

from .inprocess import count, seat, set_status
from .support import CHAT, ENVELOPE, PRESENCE_FIELDS, assert_error, bearer

LOAD = "/api/v1/presence/{}/load/"
CANDIDATES = "/api/v1/routing/candidates/"
ASSIGN = "/api/v1/routing/assign/"
RELEASE = "/api/v1/routing/release/"


def service(org=None):
    return bearer("platform-backend", org=org, role="service", name=None)


def ids(answer):
    assert answer.status_code == 200, answer.json
    assert set(answer.json) == {"agents", "server_time"}
    return [agent["agent_id"] for agent in answer.json["agents"]]


def assigned(client, chat_id, **body):
    answer = client.post(ASSIGN, json={"chat_id": chat_id, **body}, headers=service())
    assert answer.status_code == 200, answer.json
    assert set(answer.json) == {"agent", "chat_id"} and answer.json["chat_id"] == chat_id
    assert set(answer.json["agent"]) == PRESENCE_FIELDS
    return answer.json["agent"]


def assigned_before(app, agent_id, seconds):
    """Stamp the agent's last assignment `seconds` ago."""
    with app.app_context():
        db.session.execute(update(Presence).where(Presence.agent_id == agent_id)
                           .values(last_assigned_at=seconds_ago(seconds)))
        db.session.commit()


def open_assignments(app):
    """{chat_id: agent_id} of every assignment not released."""
    with app.app_context():
        rows = db.session.execute(select(ChatAssignment.chat_id, ChatAssignment.agent_id)
                                  .where(ChatAssignment.released_at.is_(None))).all()
    return dict(rows)


def open_chats(app):
    with app.app_context():
        return dict(db.session.execute(select(Presence.agent_id, Presence.open_chats)).all())


def test_candidates_come_by_spare_capacity_then_never_assigned_then_longest_since_then_id(app, client):
    seat(app, [*range(1, 11), 12])
    loads = {1: (2, 3), 2: (1, 5), 4: (1, 4), 5: (0, 3), 6: (0, 3), 7: (3, 3)}
    for agent_id, (open_, capacity) in loads.items():
        assert client.put(LOAD.format(agent_id), json={"open_chats": open_, "capacity": capacity},
                          headers=service()).status_code == 200
    assigned_before(app, 5, 3600)
    assigned_before(app, 4, 600)
    assigned_before(app, 6, 60)
    seat(app, [8], status="busy")
    seat(app, [9], websocket_connected=False, connections=0)
    seat(app, [10], active=False)
    seat(app, [13], org="other")
    # 3 and 12 follow DEFAULT_CAPACITY (3) and were never assigned: after 2 (4 spare), before those assigned.
    order = [2, 3, 12, 5, 4, 6, 1]
    assert ids(client.get(CANDIDATES, headers=service())) == order
    assert ids(client.get(CANDIDATES, query_string={"limit": 3}, headers=service())) == order[:3]
    agents = client.get(CANDIDATES, headers=service()).json["agents"]
    assert all(a["available_for_assignment"] and a["open_chats"] < a["capacity"] for a in agents)
    assert [(a["open_chats"], a["capacity"]) for a in agents[:2]] == [(1, 5), (0, 3)]


def test_candidates_of_a_team_and_a_supervisor_reads_them_too(app, client):
    client.get("/api/v1/presence/me/", headers=bearer(1, teams=["billing"]))
    client.get("/api/v1/presence/me/", headers=bearer(2, teams=["sales"]))
    client.get("/api/v1/presence/me/", headers=bearer(3, teams=["billing", "sales"]))
    seat(app, [1, 2, 3])
    assert ids(client.get(CANDIDATES, query_string={"team": "billing"}, headers=service())) == [1, 3]
    assert ids(client.get(CANDIDATES, query_string={"team": "nobody"}, headers=service())) == []
    assert ids(client.get(CANDIDATES, headers=bearer(9, role="supervisor"))) == [1, 2, 3]
    assert assigned(client, "chat-1", team="sales")["agent_id"] == 2
    assert assigned(client, "chat-2", team="sales")["agent_id"] == 3  # 2 has less spare now


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"team": "a b"},
                                   {"team": "x" * 65}, {"bogus": "1"}])
def test_bad_candidate_queries_are_400(client, query):
    assert_error(client.get(CANDIDATES, query_string=query, headers=service()), 400, "validation_error")


def test_load_sets_either_or_both_and_a_null_capacity_returns_to_the_default(make_app):
    app = make_app(DEFAULT_CAPACITY=4)
    client = app.test_client()
    seat(app, [5])
    answer = client.put(LOAD.format(5), json={"open_chats": 2}, headers=service())
    assert answer.status_code == 200 and set(answer.json) == PRESENCE_FIELDS
    assert (answer.json["open_chats"], answer.json["capacity"], answer.json["available_for_assignment"]) == (2, 4, True)
    answer = client.put(LOAD.format(5), json={"capacity": 2}, headers=bearer(9, role="supervisor")).json
    assert (answer["open_chats"], answer["capacity"], answer["available_for_assignment"]) == (2, 2, False)
    assert ids(client.get(CANDIDATES, headers=service())) == []
    answer = client.put(LOAD.format(5), json={"capacity": None}, headers=service()).json
    assert (answer["open_chats"], answer["capacity"]) == (2, 4)
    assert ids(client.get(CANDIDATES, headers=service())) == [5]
    assert client.get("/api/v1/presence/5/", headers=service()).json["capacity"] == 4


@pytest.mark.parametrize("body", [{}, {"open_chats": -1}, {"open_chats": 1001}, {"capacity": 1001},
                                  {"capacity": "3"}, {"open_chats": 1.5}, {"open_chats": True}, {"open_chats": None},
                                  {"capacity": 3, "extra": 1}, [1]])
def test_load_out_of_bounds_is_400_and_changes_nothing(app, client, body):
    seat(app, [5])
    before = client.get("/api/v1/presence/5/", headers=service()).json
    assert_error(client.put(LOAD.format(5), json=body, headers=service()), 400, "validation_error")
    assert client.get("/api/v1/presence/5/", headers=service()).json == before


def test_load_of_an_unknown_agent_or_another_orgs_is_404(app, client):
    seat(app, [5], org="other")
    assert_error(client.put(LOAD.format(5), json={"capacity": 1}, headers=service()), 404, "not_found")
    assert_error(client.put(LOAD.format(6), json={"capacity": 1}, headers=service()), 404, "not_found")


def test_assign_takes_the_first_candidate_stamps_it_and_counts_the_chat(app, client):
    seat(app, [1, 2])
    first = assigned(client, CHAT)
    assert first["agent_id"] == 1 and first["open_chats"] == 1 and first["last_assigned_at"] is not None
    assert assigned(client, "chat-b")["agent_id"] == 2  # more spare capacity now
    assert assigned(client, "chat-c")["agent_id"] == 1  # equal spare: 1 was assigned longer ago
    assert open_assignments(app) == {CHAT: 1, "chat-b": 2, "chat-c": 1}
    assert client.get("/api/v1/presence/1/", headers=service()).json["open_chats"] == 2


def test_assigning_an_assigned_chat_answers_the_same_agent_and_changes_nothing(app, client):
    seat(app, [1, 2])
    agent = assigned(client, CHAT)["agent_id"]
    again = assigned(client, CHAT)
    assert again["agent_id"] == agent and again["open_chats"] == 1
    assert assigned(client, CHAT, agent_id=2)["agent_id"] == agent  # even when another agent is named
    assert open_assignments(app) == {CHAT: agent}
    assert open_chats(app) == {1: 1, 2: 0}


def test_no_agent_available_is_a_409_and_records_nothing(app, client):
    seat(app, [1], capacity=1)
    seat(app, [2], status="away")
    assigned(client, "chat-a")
    answer = client.post(ASSIGN, json={"chat_id": "chat-b"}, headers=service())
    assert_error(answer, 409, "no_agent_available")
    assert open_assignments(app) == {"chat-a": 1}
    assert_error(client.post(ASSIGN, json={"chat_id": "chat-b", "team": "none"}, headers=service()), 409,
                 "no_agent_available")


def test_a_named_agent_is_taken_only_while_available(app, client):
    seat(app, [1, 2, 3])
    seat(app, [4], status="busy")
    assert assigned(client, "chat-a", agent_id=3)["agent_id"] == 3
    assert_error(client.post(ASSIGN, json={"chat_id": "chat-b", "agent_id": 4}, headers=service()), 409,
                 "no_agent_available")
    client.put(LOAD.format(2), json={"open_chats": 3}, headers=service())
    assert_error(client.post(ASSIGN, json={"chat_id": "chat-b", "agent_id": 2}, headers=service()), 409,
                 "no_agent_available")
    assert_error(client.post(ASSIGN, json={"chat_id": "chat-b", "agent_id": 77}, headers=service()), 404,
                 "not_found")
    assert open_assignments(app) == {"chat-a": 3}


def test_release_frees_one_chat_and_a_repeat_says_released_false(app, client):
    seat(app, [1], capacity=1)
    assigned(client, CHAT)
    first = client.post(RELEASE, json={"chat_id": CHAT}, headers=service())
    assert first.status_code == 200 and first.json == {"chat_id": CHAT, "agent_id": 1, "released": True}
    assert open_chats(app) == {1: 0}
    again = client.post(RELEASE, json={"chat_id": CHAT}, headers=service())
    assert again.json == {"chat_id": CHAT, "agent_id": 1, "released": False}
    assert open_chats(app) == {1: 0}
    assert assigned(client, CHAT)["open_chats"] == 1  # a released chat can be assigned again
    assert count(app, ChatAssignment) == 2  # each assignment is kept, with its release
    assert_error(client.post(RELEASE, json={"chat_id": "never"}, headers=service()), 404, "not_found")


def test_a_release_after_the_load_was_reset_stays_at_zero(app, client):
    seat(app, [1])
    assigned(client, CHAT)
    client.put(LOAD.format(1), json={"open_chats": 0}, headers=service())
    assert client.post(RELEASE, json={"chat_id": CHAT}, headers=service()).json["released"] is True
    agent = client.get("/api/v1/presence/1/", headers=service()).json
    assert (agent["open_chats"], agent["available_for_assignment"]) == (0, True)
    assert ids(client.get(CANDIDATES, headers=service()))[0] == 1


@pytest.mark.parametrize("path, body", [
    (ASSIGN, {}), (ASSIGN, {"chat_id": "a b"}), (ASSIGN, {"chat_id": "x" * 65}),
    (ASSIGN, {"chat_id": CHAT, "agent_id": 0}), (ASSIGN, {"chat_id": CHAT, "agent_id": "1"}),
    (ASSIGN, {"chat_id": CHAT, "team": ""}), (ASSIGN, {"chat_id": CHAT, "other": 1}),
    (RELEASE, {}), (RELEASE, {"chat_id": 5}), (RELEASE, {"chat_id": CHAT, "agent_id": 1}),
])
def test_bad_assign_and_release_bodies_are_400(app, client, path, body):
    seat(app, [1])
    assert_error(client.post(path, json=body, headers=service()), 400, "validation_error")
    assert open_assignments(app) == {}


@pytest.mark.parametrize("method, path", [("PUT", LOAD.format(1)), ("GET", CANDIDATES), ("POST", ASSIGN),
                                          ("POST", RELEASE)])
def test_agents_may_not_route_refused_before_the_body_is_read(app, client, method, path):
    seat(app, [1])
    answer = client.open(path, method=method, data=b"{not json", headers=bearer(1))
    assert answer.status_code == 403 and set(answer.json) == ENVELOPE and answer.json["error"] == "forbidden"
    assert client.open(path, method=method, data=b"{}").status_code == 401
    assert open_assignments(app) == {} and open_chats(app) == {1: 0}


def test_another_orgs_chats_and_agents_are_apart(app, client):
    seat(app, [1], org="a")
    seat(app, [2], org="a:b")
    answer = client.post(ASSIGN, json={"chat_id": CHAT}, headers=service(org="a")).json
    assert answer["agent"]["agent_id"] == 1
    assert client.post(ASSIGN, json={"chat_id": CHAT}, headers=service(org="a:b")).json["agent"]["agent_id"] == 2
    assert_error(client.post(ASSIGN, json={"chat_id": "c2", "agent_id": 1}, headers=service(org="a:b")), 404,
                 "not_found")
    assert client.post(RELEASE, json={"chat_id": CHAT}, headers=service(org="a")).json["agent_id"] == 1
    assert client.post(RELEASE, json={"chat_id": CHAT}, headers=service(org="a:b")).json["released"] is True


def test_a_new_default_capacity_reaches_agents_that_follow_it(make_app):
    app = make_app(DEFAULT_CAPACITY=3)
    seat(app, [1])
    seat(app, [2], capacity=3)
    smaller = make_app(DEFAULT_CAPACITY=1)
    with smaller.app_context():
        routing.reconcile_spare()  # what a web process does as it starts
    client = smaller.test_client()
    assert ids(client.get(CANDIDATES, headers=service())) == [2, 1]
    assert [assigned(client, f"c{n}")["agent_id"] for n in range(4)] == [2, 2, 1, 2]
    assert_error(client.post(ASSIGN, json={"chat_id": "c9"}, headers=service()), 409, "no_agent_available")


def _in_parallel(calls):
    answers, start = [None] * len(calls), threading.Barrier(len(calls))

    def run(n):
        start.wait()
        answers[n] = calls[n]()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def test_parallel_assigns_never_pass_capacity(app, client):
    seat(app, range(1, 6), capacity=2)
    answers = _in_parallel([lambda n=n: client.post(ASSIGN, json={"chat_id": f"chat-{n}"}, headers=service())
                            for n in range(24)])
    assert Counter(a.status_code for a in answers) == {200: 10, 409: 14}
    placed = open_assignments(app)
    assert len(placed) == 10 and Counter(placed.values()) == {agent: 2 for agent in range(1, 6)}
    assert open_chats(app) == {agent: 2 for agent in range(1, 6)}


def test_parallel_assigns_of_one_chat_answer_one_agent(app, client):
    seat(app, range(1, 6))
    answers = _in_parallel([lambda: client.post(ASSIGN, json={"chat_id": CHAT}, headers=service())] * 12)
    assert {a.status_code for a in answers} == {200}
    agents = {a.json["agent"]["agent_id"] for a in answers}
    assert len(agents) == 1 and open_assignments(app) == {CHAT: agents.pop()}
    assert sum(open_chats(app).values()) == 1


def test_parallel_releases_release_once_and_parallel_loads_all_answer(app, client):
    seat(app, [1])
    assigned(client, CHAT)
    answers = _in_parallel([lambda: client.post(RELEASE, json={"chat_id": CHAT}, headers=service())] * 8)
    assert sorted(a.json["released"] for a in answers) == [False] * 7 + [True]
    loads = _in_parallel([lambda n=n: client.put(LOAD.format(1), json={"capacity": n + 1}, headers=service())
                          for n in range(8)])
    assert {a.status_code for a in loads} == {200}
    with app.app_context():
        row = db.session.execute(select(Presence.open_chats, Presence.capacity, Presence.spare)).one()
        assert row.spare == row.capacity - row.open_chats and row.open_chats == 0
        assert db.session.scalar(select(func.count()).select_from(ChatAssignment)
                                 .where(ChatAssignment.released_at.is_not(None))) == 1


def test_an_agent_setting_itself_online_with_a_socket_becomes_a_candidate(app, client, connect):
    connect(5)
    assert ids(client.get(CANDIDATES, headers=service())) == []
    set_status(client, 5, "online")
    assert ids(client.get(CANDIDATES, headers=service())) == [5]
    assert assigned(client, CHAT)["agent_id"] == 5
