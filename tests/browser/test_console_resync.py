"""The console repairs what it missed: a seq gap triggers `sync`, a reconnect learns who is typing.

A change written by this test process commits to the database but reaches no console (its app
has no message queue to the server): exactly what a console misses when an event is lost.
"""
import pytest

from presence_app.services import presence, typing
from presence_app.services.identity import Identity

from .pages import expect

pytestmark = [pytest.mark.browser, pytest.mark.processes]


def identity(agent):
    return Identity(agent.agent_id, agent.name, "default", agent.role)


def test_a_seq_gap_makes_the_console_resync_the_whole_roster(server, agents, console, make_app):
    joao = console(server, agents["joao"])
    joao.expect_agent("Ana Souza", status="Offline")
    app = make_app()
    with app.app_context():  # two changes the console never hears about
        presence.set_status(identity(agents["maria"]), "away", "Lunch")
        presence.set_status(identity(agents["ana"]), "busy", "Missed")
    ana = console(server, agents["ana"])
    ana.set_status("online", "Back")  # Ana's seq jumps by two at João's console

    joao.expect_agent("Ana Souza", status="Online", message="Back")
    joao.expect_agent("Maria Lima", status="Away", message="Lunch")  # only a resync brings this one
    joao.shot("after-resync")


def test_a_reconnecting_console_shows_who_is_typing_in_its_chat(restartable_server, agents, console, make_app):
    url, start, kill = restartable_server
    joao = console(url, agents["joao"])
    joao.open_chat("5511999999999")
    expect(joao.typing).to_have_text("")

    kill()
    joao.expect_connection("Reconnecting…")
    app = make_app()
    with app.app_context():  # Ana starts typing while João's console is away
        typing.start(identity(agents["ana"]), "5511999999999")
    start()

    joao.expect_connection("Connected", timeout=30_000)
    expect(joao.typing).to_have_text("Ana Souza is typing…", timeout=10_000)
    joao.shot("typing-after-reconnect")
    joao.errors.clear()  # the outage may log failed connection attempts
