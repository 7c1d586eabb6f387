"""The console repairs what it missed: a reconnect resyncs incrementally, and learns who is typing.

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


def test_a_cut_socket_reconnects_and_resyncs_only_what_it_missed(server, agents, console, make_app):
    joao = console(server, agents["joao"])
    joao.expect_agent("Ana Souza", status="Offline")
    heard = joao.hear_states()
    app = make_app()
    with app.app_context():  # two changes the console never hears about
        presence.set_status(identity(agents["maria"]), "away", "Lunch")
        presence.set_status(identity(agents["ana"]), "busy", "Missed")

    joao.cut_socket()

    joao.expect_agent("Maria Lima", status="Away", message="Lunch")
    joao.expect_agent("Ana Souza", status="Busy", message="Missed")
    joao.expect_connection("Connected")
    (state,) = heard()  # the reconnect's roster: with auth.since, only what changed after the cursor
    assert state["full"] is False
    assert {"Ana Souza", "Maria Lima"} <= {agent["name"] for agent in state["agents"]}
    expect(joao.roster_names()).to_have_count(3)
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
