"""The agent console at / in real Chromium, against a real server process.

Screenshots of each step land in test-artifacts/.
"""
import os
from datetime import UTC, datetime

import pytest
import requests

from presence_app.cli import DEMO_PASSWORD
from presence_app.services import presence
from presence_app.services.identity import Identity

from ..support import wait_for
from .pages import expect

pytestmark = [pytest.mark.browser, pytest.mark.processes]

WITHIN_A_SECOND_MS = 1_000


def test_status_change_reaches_the_other_roster_within_a_second(server, agents, console):
    ana, joao = console(server, agents["ana"]), console(server, agents["joao"])
    ana.expect_agent("João Silva", status="Offline", connection="Connected")
    joao.expect_agent("Ana Souza", status="Offline", connection="Connected")

    ana.set_status("busy", "In a meeting until 3 pm")

    joao.expect_agent("Ana Souza", status="Busy", timeout=WITHIN_A_SECOND_MS)
    joao.expect_agent("Ana Souza", message="In a meeting until 3 pm", connection="Connected")
    expect(joao.row("Ana Souza").locator("td.since")).to_have_text("under a minute")
    ana.expect_agent("Ana Souza (you)", status="Busy")
    joao.shot("sees-ana-busy")


def test_typing_shows_only_in_its_chat_and_stops_on_send_idle_and_leave(server, agents, console):
    ana = console(server, agents["ana"])
    joao_x = console(server, agents["joao"])
    joao_y = console(server, agents["joao"])  # a second tab of the same agent, in another chat
    maria = console(server, agents["maria"])
    for page, chat in ((ana, "5511999999999"), (joao_x, "5511999999999"), (joao_y, "web:4242")):
        page.open_chat(chat)
    ana.set_status("online", "Answering WhatsApp")
    joao_x.set_status("online", "Back office queue")
    maria.set_status("busy", "In a meeting until 3 pm")
    joao_x.expect_agent("Maria Lima", status="Busy")
    joao_x.expect_agent("João Silva (you)", status="Online")

    ana.type("Hello, how can I")
    expect(joao_x.typing).to_have_text("Ana Souza is typing…")
    joao_x.shot("sees-ana-typing")
    # Events reach a socket in order: once Ana's next change has arrived in a tab, a
    # typing_start meant for that tab would have arrived before it.
    ana.set_status("away", "Back in 5 minutes")
    joao_y.expect_agent("Ana Souza", status="Away")
    expect(joao_y.typing).to_have_text("")
    ana.expect_agent("Ana Souza (you)", status="Away")
    expect(ana.typing).to_have_text("")  # the indicator is for the others

    ana.send()
    expect(joao_x.typing).to_have_text("")
    ana.type("Anything else?")
    expect(joao_x.typing).to_have_text("Ana Souza is typing…")
    expect(joao_x.typing).to_have_text("", timeout=15_000)  # idle for 3 s

    ana.type("Bye")
    expect(joao_x.typing).to_have_text("Ana Souza is typing…")
    ana.leave_chat()
    expect(joao_x.typing).to_have_text("")
    joao_x.shot("ana-left-chat")


def test_closed_page_shows_disconnected_after_the_grace(server, agents, console):
    ana, joao = console(server, agents["ana"]), console(server, agents["joao"])
    joao.expect_agent("Ana Souza", connection="Connected")

    ana.close()

    joao.expect_agent("Ana Souza", connection="Disconnected")
    expect(joao.page.locator("#roster-news")).to_have_text("Ana Souza disconnected")
    joao.shot("sees-ana-disconnected")


def test_console_reconnects_and_rebuilds_its_roster_from_presence_state(restartable_server, agents, console,
                                                                        make_app):
    url, start, kill = restartable_server
    ana, joao = console(url, agents["ana"]), console(url, agents["joao"])
    joao.expect_agent("Ana Souza", status="Offline")

    kill()
    joao.expect_connection("Reconnecting…")
    # A change the console can't hear about: only the snapshot after reconnecting can bring it.
    app = make_app()
    with app.app_context():
        who = agents["ana"]
        presence.set_status(Identity(who.agent_id, who.name, "default", who.role), "away", "Back at 4 pm")
    start()

    joao.expect_connection("Connected", timeout=30_000)
    joao.expect_agent("Ana Souza", status="Away", message="Back at 4 pm")
    expect(ana.page.get_by_label("Status", exact=True)).to_have_value("away", timeout=30_000)
    joao.shot("after-reconnect")
    for page in (ana, joao):
        page.errors.clear()  # the outage may log failed connection attempts


def test_console_heartbeats_on_connect_and_every_30_seconds(server, agents, console):
    ana = console(server, agents["ana"], clock=True)
    last_heartbeat = _my_last_heartbeat(server, agents["ana"])
    first = wait_for(last_heartbeat, message="the heartbeat on connect")
    # Heartbeat times have one-second resolution: let the server's clock pass `first`.
    wait_for(lambda: _utc_now() > first, message="the next second")
    assert last_heartbeat() == first

    ana.page.clock.fast_forward(30_000)

    wait_for(lambda: last_heartbeat() > first, message="the 30 s heartbeat")


def test_sign_in_with_a_wrong_password_is_refused(server, chromium, artifacts):
    page = chromium.new_page()
    try:
        page.goto(server + "/")
        page.get_by_label("Email").fill("ana@example.com")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert").first).to_have_text("wrong email or password")
        expect(page.locator("#console-view")).to_be_hidden()
        page.screenshot(path=os.path.join(artifacts, "test_sign_in_with_a_wrong_password_is_refused.png"))
    finally:
        page.close()


def _my_last_heartbeat(url, agent):
    """A function that reads the agent's last_heartbeat over REST."""
    login = requests.post(f"{url}/api/v1/auth/token", json={"email": agent.email, "password": DEMO_PASSWORD},
                          timeout=5)
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    return lambda: requests.get(f"{url}/api/v1/presence/me/", headers=headers, timeout=5).json()["last_heartbeat"]


def _utc_now():
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
