"""The console's supervisor view, reason codes, expiring statuses and idle detection, in real Chromium.

Against a real embedded-mode server whose status sweeps run every second; screenshots of each step
land in test-artifacts/ (docs/console.png comes from test_console_screenshot.py).
"""
import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from presence_app.cli import DEMO_CODES
from presence_app.extensions import db
from presence_app.models import Presence

from ..support import wait_for
from .conftest import SERVER, rest
from .pages import expect

pytestmark = [pytest.mark.browser, pytest.mark.processes]

IDLE = 10  # IDLE_AWAY_SECONDS: short, so a fast-forward never outruns Socket.IO's ping timeout (45 s)
SUPERVISED = dict(SERVER, STATUS_SWEEP_SECONDS=1, IDLE_AWAY_SECONDS=IDLE)
P = Presence.__table__


@pytest.fixture
def server(processes, agents):
    """A real embedded-mode web process with short sweeps, and the demo reason codes."""
    _, url = processes.web(**SUPERVISED)
    rest(url, agents["ana"], "PUT", "reason-codes/", {"codes": list(DEMO_CODES)})
    return url


def backdate(make_app, agent, **seconds):
    """Move presence times of the agent into the past, as if that much time had gone by."""
    app = make_app()
    with app.app_context():
        row = db.session.execute(P.select().where(P.c.agent_id == agent.agent_id)).one()
        db.session.execute(update(P).where(P.c.agent_id == agent.agent_id).values(
            **{column: getattr(row, column) - timedelta(seconds=ago) for column, ago in seconds.items()}))
        db.session.commit()


def test_a_supervisor_sees_counts_per_status_and_filters_the_roster(server, agents, console):
    ana, joao, maria = (console(server, agents[name]) for name in ("ana", "joao", "maria"))
    joao.set_status("online", "Queue A")
    maria.set_status("busy", "In a meeting until 3 pm", reason="Meeting")
    ana.expect_agent("Maria Lima", status="Busy")

    for kind, count in (("online", "1"), ("busy", "1"), ("away", "0"), ("offline", "1"), ("available", "1")):
        expect(ana.count(kind)).to_have_text(count)
    expect(ana.row("Maria Lima").locator("td.reason")).to_have_text("Meeting")
    ana.shot("counts")

    ana.filter_roster(status="busy")
    expect(ana.roster_names()).to_have_text(["Maria Lima"])
    ana.filter_roster(available=True)
    expect(ana.roster_names()).to_have_text(["João Silva"])
    ana.filter_roster()
    expect(ana.roster_names()).to_have_count(3)
    ana.shot("filters")
    expect(joao.page.locator("#team-tools")).to_be_hidden()
    expect(joao.page.locator("#supervisor-view")).to_be_hidden()


def test_a_supervisor_forces_an_agents_status_with_message_and_reason(server, agents, console):
    ana, maria = console(server, agents["ana"]), console(server, agents["maria"])
    maria.set_status("online")
    ana.expect_agent("Maria Lima", status="Online")

    ana.force("Maria Lima", "away", "Coaching session", reason="Meeting")

    expect(ana.page.locator("#force-done")).to_have_text("Maria Lima is now Away")
    maria.expect_agent("Maria Lima (you)", status="Away", message="Coaching session")
    expect(maria.row("Maria Lima (you)").locator("td.reason")).to_have_text("Meeting")
    expect(maria.my_status.get_by_label("Reason")).to_have_value("meeting")
    ana.shot("forced")
    (last,) = rest(server, agents["ana"], "GET", f"presence/{agents['maria'].agent_id}/history/?limit=1000")[
        "changes"][-1:]
    assert (last["reason"], last["actor_id"], last["reason_code"]) == ("supervisor", agents["ana"].agent_id, "meeting")


def test_todays_time_in_status_table_and_its_csv(server, agents, console, artifacts):
    ana, joao = console(server, agents["ana"]), console(server, agents["joao"])
    joao.set_status("busy", "Back office")
    ana.expect_agent("João Silva", status="Busy")
    ana.page.wait_for_timeout(1_500)  # let João be busy for a whole second

    ana.page.get_by_role("button", name="Refresh").click()

    expect(ana.report_cell("João Silva", "busy")).not_to_have_attribute("data-seconds", "0")
    expect(ana.report_cell("João Silva", "busy")).to_have_text(re.compile(r"^0:00:\d\d$"))
    expect(ana.page.locator("#report-body tr")).to_have_count(3)
    ana.shot("time-in-status")
    with ana.page.expect_download() as download:
        ana.page.get_by_role("button", name="Download CSV").click()
    path = f"{artifacts}/time-in-status.csv"
    download.value.save_as(path)
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    assert [row["name"] for row in rows] == ["Ana Souza", "João Silva", "Maria Lima"]
    assert list(rows[0])[:7] == ["agent_id", "name", "online", "busy", "away", "offline", "available_seconds"]
    assert int(rows[1]["busy"]) >= 1


def test_an_overrun_alert_reaches_the_supervisor_only(server, agents, console, make_app):
    ana, joao = console(server, agents["ana"]), console(server, agents["joao"])
    joao.set_status("away", "Back at 1 pm", reason="Lunch")
    ana.expect_agent("João Silva", status="Away")

    backdate(make_app, agents["joao"], code_since=61 * 60)

    expect(ana.alerts).to_have_count(1)
    expect(ana.alerts.first).to_contain_text("João Silva: Away (Lunch) since")
    expect(ana.alerts.first).to_contain_text("over 60 min")
    ana.page.wait_for_timeout(1_500)  # so the table below shows João's away time
    ana.page.get_by_role("button", name="Refresh").click()
    expect(ana.report_cell("João Silva", "away")).not_to_have_attribute("data-seconds", "0")
    ana.shot("overrun-alert")
    expect(joao.page.locator("#alerts li")).to_have_count(0)
    ana.page.get_by_role("button", name="Dismiss the alert about João Silva").click()
    expect(ana.alerts).to_have_count(0)


def test_a_resync_of_my_unchanged_presence_keeps_the_status_i_am_picking(server, agents, console):
    joao = console(server, agents["joao"])
    joao.set_status("online", "Queue A")
    expect(joao.page.locator("#status")).to_have_value("online")
    joao.expect_agent("João Silva (you)", status="Online")

    joao.my_status.get_by_label("Status", exact=True).select_option("away")
    joao.page.locator("h1").first.click()  # nothing of the form keeps the focus
    heard = joao.hear_states()
    # Back only after the disconnect grace (1 s): the resync brings my presence at a new seq, status unchanged.
    joao.page.evaluate("(() => { const m = PresenceConsole.client().socket.io;"
                       " m.reconnectionDelay(2500); m.reconnectionDelayMax(2500); m.randomizationFactor(0); })()")
    joao.cut_socket()  # the library reconnects and resyncs
    wait_for(heard, message="the roster after the reconnect")
    joao.page.wait_for_timeout(300)

    expect(joao.page.locator("#status")).to_have_value("away")
    expect(joao.my_status.get_by_label("Reason").locator("option")).to_have_text(
        ["No reason", "Lunch", "Short break", "Meeting"])


def test_the_reason_picker_offers_the_codes_of_the_status_and_an_expiring_status_returns(server, agents, console,
                                                                                         make_app):
    ana, joao = console(server, agents["ana"]), console(server, agents["joao"])
    joao.set_status("online", "Queue A")
    joao.expect_agent("João Silva (you)", status="Online")
    reasons = joao.my_status.get_by_label("Reason").locator("option")
    joao.my_status.get_by_label("Status", exact=True).select_option("away")
    expect(reasons).to_have_text(["No reason", "Lunch", "Short break", "Meeting"])
    joao.my_status.get_by_label("Status", exact=True).select_option("busy")
    expect(reasons).to_have_text(["No reason", "Meeting", "Training"])

    joao.set_status("busy", "Quick call", reason="Training", minutes=15)

    expect(joao.page.locator("#status-until")).to_contain_text("Until ")
    ana.expect_agent("João Silva", status="Busy", message="Quick call")
    joao.shot("expiring")
    backdate(make_app, agents["joao"], status_until=15 * 60)
    ana.expect_agent("João Silva", status="Online", message="Queue A")
    joao.expect_agent("João Silva (you)", status="Online")
    expect(joao.page.locator("#status-until")).to_have_text("")


def test_an_idle_console_goes_away_and_comes_back_on_input_also_when_hidden(server, agents, console):
    ana, joao = console(server, agents["ana"]), console(server, agents["joao"], clock=True)
    joao.set_status("online", "Queue A")
    ana.expect_agent("João Silva", status="Online")

    joao.page.clock.fast_forward((IDLE + 1) * 1000)

    ana.expect_agent("João Silva", status="Away", message="Queue A")
    expect(joao.my_status.get_by_label("Status", exact=True)).to_have_value("away")
    joao.shot("idle")
    joao.page.mouse.move(200, 200)
    joao.page.mouse.move(220, 240)
    ana.expect_agent("João Silva", status="Online")

    # A hidden tab keeps counting: nothing but input resets the clock.
    joao.page.evaluate("""() => {
        Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
        Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    joao.page.clock.fast_forward((IDLE + 1) * 1000)
    ana.expect_agent("João Silva", status="Away")
    joao.page.keyboard.press("Shift")
    ana.expect_agent("João Silva", status="Online")
    reasons = [c["reason"] for c in rest(server, agents["ana"], "GET",
                                         f"presence/{agents['joao'].agent_id}/history/")["changes"]]
    assert reasons[-4:] == ["idle", "active", "idle", "active"]
