"""The Mermaid diagrams of the README and docs/ render: mermaid (pinned in tests/js) draws each in Chromium."""
import glob
import os
import re

import pytest

from ..clients import JS_DIR
from ..support import ROOT

pytestmark = pytest.mark.browser

MERMAID = os.path.join(JS_DIR, "node_modules", "mermaid", "dist", "mermaid.min.js")
RENDER = """async (text) => {
  mermaid.initialize({startOnLoad: false});
  try {
    await mermaid.parse(text);
    const {svg} = await mermaid.render("diagram" + Math.random().toString(36).slice(2), text);
    return {ok: true, nodes: (svg.match(/class="node /g) || []).length + (svg.match(/class="actor/g) || []).length};
  } catch (error) {
    return {ok: false, error: String(error.message || error)};
  }
}"""


def diagrams():
    """(page, n, text) of every ```mermaid block of the README and docs/ (docs/history/ holds none)."""
    found = []
    for path in [os.path.join(ROOT, "README.md"), *sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"),
                                                                   recursive=True))]:
        with open(path, encoding="utf-8") as handle:
            blocks = re.findall(r"^```mermaid\n(.*?)^```", handle.read(), re.S | re.M)
        found += [(os.path.relpath(path, ROOT), n, block) for n, block in enumerate(blocks)]
    return found


def test_the_readme_and_events_page_hold_their_diagrams():
    pages = {page for page, _, _ in diagrams()}
    assert {"README.md", os.path.join("docs", "events.md")} <= pages


@pytest.mark.parametrize(("page", "n", "text"), diagrams(), ids=lambda value: str(value)[:24])
def test_diagram_renders(chromium, page, n, text):
    if not os.path.exists(MERMAID):
        pytest.skip(f"{MERMAID} is missing: run npm ci in tests/js (./dev.py test does)")
    context = chromium.new_context()
    try:
        tab = context.new_page()
        tab.set_content("<!doctype html><html><body></body></html>")
        tab.add_script_tag(path=MERMAID)
        result = tab.evaluate(RENDER, text)
    finally:
        context.close()
    assert result["ok"], f"{page}, diagram {n}: {result.get('error')}"
    assert result["nodes"] >= 3
