"""Large orgs in the console (contract v1.2), in real Chromium against real server processes: an agent's
console hears its teams with counts, a reconnect converges to the server's roster, and the supervisor
pages through the whole org or one team with every team's counts.
"""
import pytest

from presence_app.cli import DEMO_PASSWORD
from presence_app.services import accounts, presence
from presence_app.services.identity import Identity

from .conftest import DemoAgent, rest
from .pages import expect

pytestmark = [pytest.mark.browser, pytest.mark.processes]

TEAMS = {"bea": ("Bea Costa", ("billing",)), "caio": ("Caio Dias", ("billing",)), "davi": ("Davi Reis", ("sales",))}
CROWD = {"billing": 20, "sales": 5}  # with the six above: 31 agents, billing 22, sales 6


def make_agents(make_app, people):
    """Agents with standalone logins (DEMO_PASSWORD) in teams: {slug: (name, teams)} -> {slug: DemoAgent}."""
    app = make_app()
    made = {}
    with app.app_context():
        for slug, (name, teams) in people.items():
            email = f"{slug}@example.com"
            made[slug] = DemoAgent(email, name, "agent", accounts.create_agent(email, name, DEMO_PASSWORD, teams=teams))
    return made


@pytest.fixture
def team_agents(agents, make_app):
    """Bea and Caio in billing, Davi in sales (besides the demo agents, who have no team)."""
    return make_agents(make_app, TEAMS)


@pytest.fixture
def crowd(team_agents, make_app):
    """Enough agents in billing for two pages of the roster, and a few more in sales."""
    people = {f"{team}{n:02d}": (f"{team.title()} agent {n:02d}", (team,))
              for team, size in CROWD.items() for n in range(1, size + 1)}
    return make_agents(make_app, people)


def roster_of(page):
    """What the console shows: {name: status label} of every row."""
    rows = page.page.locator("#roster-body tr").all()
    return {row.locator("td.name").inner_text().removesuffix(" (you)"): row.locator("td.status").inner_text()
            for row in rows}


def test_an_agents_console_shows_its_team_and_not_another_teams_agent(server, team_agents, console):
    bea = console(server, team_agents["bea"])
    bea.expect_agent("Caio Dias", status="Offline")
    expect(bea.roster_names()).to_have_text(["Bea Costa (you)", "Caio Dias"])
    expect(bea.page.locator("#roster-title")).to_have_text("Team billing")

    rest(server, team_agents["davi"], "POST", "presence/set-status/", {"status": "online", "message": "Sales desk"})
    rest(server, team_agents["caio"], "POST", "presence/set-status/", {"status": "busy", "message": "On a call"})

    bea.expect_agent("Caio Dias", status="Busy", message="On a call")
    expect(bea.roster_names()).to_have_text(["Bea Costa (you)", "Caio Dias"])
    known = bea.page.evaluate("PresenceConsole.client().agents().map((agent) => agent.name).sort()")
    assert known == ["Bea Costa", "Caio Dias"]  # the server sent nothing of Davi, not even hidden
    bea.shot("team-billing")


def test_counts_are_shown_and_follow_changes(server, team_agents, console):
    bea = console(server, team_agents["bea"])
    expect(bea.counted_scopes()).to_have_count(2)  # the org and Bea's own team
    expect(bea.count("total")).to_have_text("6")
    expect(bea.count("total", "billing")).to_have_text("2")
    expect(bea.count("offline", "billing")).to_have_text("2")
    expect(bea.page.locator("#counts-body tr[data-scope='sales']")).to_have_count(0)

    rest(server, team_agents["caio"], "POST", "presence/set-status/", {"status": "busy"})
    rest(server, team_agents["davi"], "POST", "presence/set-status/", {"status": "online"})
    bea.set_status("online", "Queue A")

    expect(bea.count("busy", "billing")).to_have_text("1")
    expect(bea.count("online", "billing")).to_have_text("1")
    expect(bea.count("offline", "billing")).to_have_text("0")
    expect(bea.count("available", "billing")).to_have_text("1")  # Bea: online and connected
    expect(bea.count("online")).to_have_text("2")  # Davi counts in the org, though Bea never sees him
    expect(bea.count("available")).to_have_text("1")  # Davi is online but has no socket
    bea.shot("counts")


def test_after_a_server_restart_the_console_converges_to_the_servers_roster(restartable_server, team_agents, console,
                                                                            make_app):
    url, start, kill = restartable_server
    bea = console(url, team_agents["bea"])
    bea.expect_agent("Caio Dias", status="Offline")

    kill()
    bea.expect_connection("Reconnecting…")
    app = make_app()
    with app.app_context():  # changes the console can't hear: only the resync after the restart brings them
        for slug, status, message in (("caio", "away", "Lunch"), ("davi", "busy", "Not for billing")):
            who = team_agents[slug]
            presence.set_status(Identity(who.agent_id, who.name, "default", who.role, teams=TEAMS[slug][1]),
                                status, message)
    start()

    bea.expect_connection("Connected", timeout=30_000)
    bea.expect_agent("Caio Dias", status="Away", message="Lunch")
    server_roster = rest(url, team_agents["bea"], "GET", "presence/?team=billing")["agents"]
    assert roster_of(bea) == {agent["name"]: agent["status"].title() for agent in server_roster}
    expect(bea.count("away", "billing")).to_have_text("1")
    bea.errors.clear()  # the outage may log failed connection attempts


def test_the_supervisor_pages_through_the_org_and_one_team_with_every_teams_counts(server, agents, crowd, console):
    ana = console(server, agents["ana"])
    expect(ana.page.locator("#roster-title")).to_have_text("Whole org")
    expect(ana.page_info).to_have_text("Agents 1–20 of 31")
    expect(ana.roster_names()).to_have_count(20)
    expect(ana.count("total")).to_have_text("31")
    expect(ana.count("total", "billing")).to_have_text("22")
    expect(ana.count("total", "sales")).to_have_text("6")
    ana.next_page()
    expect(ana.page_info).to_have_text("Agents 21–31 of 31")
    expect(ana.roster_names()).to_have_count(11)

    ana.pick_team("sales")

    expect(ana.page.locator("#roster-title")).to_have_text("Team sales")
    expect(ana.roster_names()).to_have_text(["Davi Reis", *(f"Sales agent {n:02d}" for n in range(1, 6))])
    expect(ana.page.locator("#pager")).to_be_hidden()
    rest(server, crowd["sales03"], "POST", "presence/set-status/", {"status": "busy"})
    rest(server, crowd["billing07"], "POST", "presence/set-status/", {"status": "away"})
    ana.expect_agent("Sales agent 03", status="Busy")
    expect(ana.count("busy", "sales")).to_have_text("1")
    expect(ana.count("total", "billing")).to_have_text("22")  # every team's counts stay on the table
    expect(ana.count("away", "billing")).to_have_text("1", timeout=15_000)  # read every 10 s while one team shows

    ana.pick_team("billing")
    expect(ana.page_info).to_have_text("Agents 1–20 of 22")
    ana.next_page()
    expect(ana.roster_names()).to_have_text(["Billing agent 20", "Caio Dias"])  # by name: Bea, Billing agents, Caio
    ana.previous_page()
    expect(ana.page_info).to_have_text("Agents 1–20 of 22")
    ana.expect_agent("Billing agent 07", status="Away")
    ana.shot("team-billing")

    ana.pick_team("")
    expect(ana.page_info).to_have_text("Agents 1–20 of 31")
