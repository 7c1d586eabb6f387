"""Browser fixtures: Debian's Chromium driven by Playwright, and a real server with demo agents.

The tests skip, saying why, where Chromium or Playwright is missing; .ci/install-browser
installs Chromium in CI.
"""
import os
from typing import NamedTuple

import pytest
import requests

from presence_app.cli import DEMO_AGENTS, DEMO_PASSWORD
from presence_app.services import accounts

from ..support import ROOT, free_port
from .pages import ConsolePage

CHROMIUM = "/usr/bin/chromium"
# Headless as root on a machine with no network: no sandbox, no GPU, no calls home.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = os.path.join(ROOT, "test-artifacts")
VIEWPORT = {"width": 1200, "height": 760}
SERVER = {"DISCONNECT_GRACE_SECONDS": 1, "LOGIN_RATE_LIMIT": "100 per minute"}


def _why_no_browser():
    if not os.access(CHROMIUM, os.X_OK):
        return (f"browser tests skipped because {CHROMIUM} is missing; install Debian's chromium "
                "(sudo apt-get install chromium, or run .ci/install-browser)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests skipped because playwright is not installed; pip install -r requirements-dev.txt"
    return None


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium per test module (closed before the rest of the suite runs); skips if missing."""
    reason = _why_no_browser()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class DemoAgent(NamedTuple):
    email: str
    name: str
    role: str
    agent_id: int


def rest(url, agent, method, path, body=None):
    """Call the REST API as a demo agent (signed in with the standalone login)."""
    login = requests.post(f"{url}/api/v1/auth/token", json={"email": agent.email, "password": DEMO_PASSWORD},
                          timeout=5)
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    answer = requests.request(method, f"{url}/api/v1/{path}", json=body, headers=headers, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture
def agents(make_app):
    """The demo agents, as `flask demo-agents` makes them, by first name: {"ana": DemoAgent, ...}."""
    app = make_app()
    made = {}
    with app.app_context():
        for email, name, role in DEMO_AGENTS:
            agent_id = accounts.create_agent(email, name, DEMO_PASSWORD, role=role)
            made[email.split("@")[0]] = DemoAgent(email, name, role, agent_id)
    return made


@pytest.fixture
def server(processes, agents):
    """A real embedded-mode web process with a short disconnect grace; returns its URL."""
    _, url = processes.web(**SERVER)
    return url


@pytest.fixture
def restartable_server(processes, agents):
    """A web process on a fixed port that the test can kill and start again: (url, start, kill)."""
    port = free_port()
    current = {}

    def start():
        current["proc"], current["url"] = processes.web(port=port, **SERVER)

    def kill():
        current["proc"].kill()

    start()
    return current["url"], start, kill


@pytest.fixture
def artifacts():
    """Where screenshots are saved as test artifacts: test-artifacts/ at the repository root (gitignored)."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def console(chromium, artifacts, request):
    """Open signed-in consoles: console(url, agent) -> ConsolePage, each agent in its own browser context."""
    contexts, pages = {}, []
    prefix = os.path.join(artifacts, request.node.name)

    def open_console(url, agent, clock=False):
        if agent.email not in contexts:
            contexts[agent.email] = chromium.new_context(viewport=VIEWPORT, locale="en-US")
        page = ConsolePage(contexts[agent.email].new_page(), url, agent.name, prefix,
                           slug=agent.email.split("@")[0])
        if clock:
            page.page.clock.install()
        page.sign_in(agent.email, DEMO_PASSWORD)
        pages.append(page)
        return page

    yield open_console
    for context in contexts.values():
        context.close()
    errors = [f"{page.slug}: {error}" for page in pages for error in page.errors]
    assert not errors, "the console logged errors:\n" + "\n".join(errors)
