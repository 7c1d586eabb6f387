"""docs/console.png: the supervisor's console in a real scenario, taken by a browser test.

Agents in teams set real statuses (three from their own consoles over the socket, three over REST),
nothing is backdated: the times shown are the real ones. With UPDATE_SCREENSHOTS=1 the test writes
docs/console.png; otherwise the picture lands in test-artifacts/ and only the committed one is checked.
"""
import os
import struct

import pytest

from presence_app.cli import DEMO_CODES

from ..support import ROOT
from .pages import expect
from .test_console_teams import make_agents, rest

DOCS_PNG = os.path.join(ROOT, "docs", "console.png")
SHOT = {"width": 1280, "height": 1760}  # the picture's size: the viewport, not the page's length
PEOPLE = {
    "bea": ("Bea Costa", ("billing",)), "caio": ("Caio Dias", ("billing",)), "fabio": ("Fábio Nunes", ("billing",)),
    "davi": ("Davi Reis", ("sales",)), "elis": ("Elis Ramos", ("sales",)), "gil": ("Gil Prado", ("billing", "sales")),
}


def png_size(path):
    """(width, height) of a PNG, from its IHDR chunk."""
    with open(path, "rb") as handle:
        head = handle.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.mark.browser
@pytest.mark.processes
def test_a_supervisors_console_in_a_real_scenario(server, agents, make_app, console, artifacts):
    team = make_agents(make_app, PEOPLE)
    rest(server, agents["ana"], "PUT", "reason-codes/", {"codes": list(DEMO_CODES)})
    bea, caio, elis = (console(server, team[slug]) for slug in ("bea", "caio", "elis"))
    bea.set_status("online", "WhatsApp queue")
    caio.set_status("busy", "Call with a customer", reason="Meeting")
    elis.set_status("away", "Back at 1 pm", reason="Lunch", minutes=45)
    for slug, body in (("davi", {"status": "online", "message": "Email queue"}),
                       ("fabio", {"status": "away", "message": "Coffee", "reason_code": "break"}),
                       ("gil", {"status": "busy", "message": "Onboarding", "reason_code": "training"})):
        rest(server, team[slug], "POST", "presence/set-status/", body)
    ana = console(server, agents["ana"])
    ana.set_status("online", "Supervising billing and sales")

    ana.expect_agent("Elis Ramos", status="Away", message="Back at 1 pm", connection="Connected")
    ana.expect_agent("Gil Prado", status="Busy", connection="Disconnected")
    expect(ana.count("total")).to_have_text("9")
    expect(ana.count("online")).to_have_text("3")
    expect(ana.count("available")).to_have_text("2")  # Bea and Ana; Davi is online with no socket
    expect(ana.count("busy", "billing")).to_have_text("2")
    expect(ana.count("away", "sales")).to_have_text("1")
    ana.page.get_by_role("button", name="Refresh").click()
    expect(ana.page.locator("#report-body tr")).to_have_count(9)

    ana.page.set_viewport_size(SHOT)
    ana.page.locator("h1").first.click()  # no focus ring in the picture
    path = DOCS_PNG if os.environ.get("UPDATE_SCREENSHOTS") == "1" else os.path.join(artifacts, "console.png")
    ana.page.screenshot(path=path)
    assert png_size(path) == (SHOT["width"], SHOT["height"])


# After the test above, so that an UPDATE_SCREENSHOTS=1 run checks the picture it has just written.
def test_the_committed_screenshot_is_the_one_the_test_takes():
    assert os.path.exists(DOCS_PNG), "docs/console.png is missing: UPDATE_SCREENSHOTS=1 pytest tests/browser"
    assert png_size(DOCS_PNG) == (SHOT["width"], SHOT["height"])
