"""Temporary: the harness itself works (in-process app and one real web process)."""
import requests

from .support import bearer


def test_in_process_me(client):
    r = client.get("/api/v1/presence/me/", headers=bearer(5, name="João Silva"))
    assert r.status_code == 200 and r.json["agent_id"] == 5


def test_real_web_process(processes):
    _, url = processes.web()
    r = requests.get(f"{url}/api/v1/presence/me/", headers=bearer(7))
    assert r.json()["agent_id"] == 7
