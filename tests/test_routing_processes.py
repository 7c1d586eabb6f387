"""Routing and deactivation across real web processes: parallel assigns never pass capacity, and an agent
deactivated through one process is closed and refused in another.
"""
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from .clients import Rest, settle
from .inprocess import seat
from .support import FAST, bearer, wait_for

pytestmark = pytest.mark.processes

AGENTS, CAPACITY, CHATS = 10, 3, 60
SERVICE = bearer("platform-backend", role="service", name=None, exp_in=3600)


def _assign(url, chat_id):
    answer = requests.post(f"{url}/api/v1/routing/assign/", json={"chat_id": chat_id}, headers=SERVICE, timeout=60)
    return chat_id, answer.status_code, answer.json()


def test_parallel_assigns_across_processes_place_exactly_the_capacity(processes, make_app, database):
    seat(make_app(), range(1, AGENTS + 1), capacity=CAPACITY)
    urls = [processes.web(name=f"web{n}", API_RATE_LIMIT="100000 per second")[1] for n in (1, 2)]
    # Every chat goes to one process; the first ten go to the other one as well, at the same time.
    calls = [(urls[n % 2], f"chat-{n}") for n in range(CHATS)] + [(urls[(n + 1) % 2], f"chat-{n}") for n in range(10)]
    with ThreadPoolExecutor(len(calls)) as pool:
        answers = list(pool.map(lambda call: _assign(*call), calls))
    assert {status for _, status, _ in answers} <= {200, 409}, answers
    agents_of = {}
    for chat_id, status, body in answers:
        if status == 200:
            agents_of.setdefault(chat_id, set()).add(body["agent"]["agent_id"])
        else:
            assert body["error"] == "no_agent_available"
    assert len(agents_of) == AGENTS * CAPACITY and all(len(agents) == 1 for agents in agents_of.values())
    placed = database.rows("SELECT chat_id, agent_id FROM chat_assignments WHERE released_at IS NULL")
    assert {chat: {agent} for chat, agent in placed} == agents_of
    assert Counter(agent for _, agent in placed) == {agent: CAPACITY for agent in range(1, AGENTS + 1)}
    loads = database.rows("SELECT agent_id, open_chats, spare FROM presence")
    assert sorted(loads) == [(agent, CAPACITY, 0) for agent in range(1, AGENTS + 1)]


def test_a_deactivation_through_one_process_closes_and_refuses_the_agent_in_another(production, clients, database):
    production.env.update({k: str(v) for k, v in FAST.items()})
    (_, near), (_, far) = production.web(name="web1"), production.web(name="web2")
    leaver = clients.console(far, 5).connect()
    Rest(far).heartbeat(5)  # the far process knows the agent now (its cache skips the check)
    watchers = [clients.console(url, 9).connect() for url in (near, far)]
    answer = requests.delete(f"{near}/api/v1/agents/5/", headers=SERVICE, timeout=10)
    assert answer.status_code == 200 and answer.json()["active"] is False
    wait_for(lambda: not leaver.sio.connected, timeout=5, message="the far socket closed")
    for watcher in watchers:
        watcher.wait("agent_presence_changed", agent_id=5, reason="deactivated", status="offline")
    # A read is answered from the far process's cache until its look at departures (every second).
    wait_for(lambda: Rest(far).call("GET", "/presence/", 5).status_code == 401, timeout=5,
             message="the far process's look at departures")
    heartbeat = Rest(far).call("POST", "/presence/heartbeat/", 5)
    assert (heartbeat.status_code, heartbeat.json()["error"]) == (401, "agent_deactivated")
    refusal = clients.console(far, 5).refused()
    assert refusal["connect_error"]["data"]["error"] == "agent_deactivated"
    wait_for(lambda: database.presence(5).connections == 0, timeout=5, message="the closed socket's row gone")
    settle(FAST["DISCONNECT_GRACE_SECONDS"] + 1.5)  # past the grace: nothing more is announced
    for watcher in watchers:
        assert [(c["reason"], c["status"], c["websocket_connected"]) for c in watcher.changes(5)] == [
            ("deactivated", "offline", False)]
    assert database.reasons(5)[-1] == "deactivated"
