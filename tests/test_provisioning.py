"""Agents first seen in tokens are provisioned once, even when their first requests race."""
from concurrent.futures import ThreadPoolExecutor

import requests

from .support import bearer

AGENTS, REQUESTS_EACH = 12, 6


def test_concurrent_first_requests_of_a_new_agent_all_succeed_and_provision_it_once(processes):
    _, url = processes.web(API_RATE_LIMIT="1000 per second")
    calls = [agent for agent in range(100, 100 + AGENTS) for _ in range(REQUESTS_EACH)]

    def first_request(agent):
        return requests.get(f"{url}/api/v1/presence/me/", headers=bearer(agent, name=f"Racer {agent}"), timeout=20)

    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(first_request, calls))
    assert [a.status_code for a in answers] == [200] * len(calls)
    assert {a.json()["agent_id"] for a in answers} == set(range(100, 100 + AGENTS))
    roster = requests.get(f"{url}/api/v1/presence/", headers=bearer(100, name="Racer 100"), timeout=10).json()
    assert sorted(a["agent_id"] for a in roster["agents"]) == list(range(100, 100 + AGENTS))
    assert all(a["status"] == "offline" and a["seq"] == 0 for a in roster["agents"])
