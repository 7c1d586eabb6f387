"""The documentation: the contract's history is a verbatim copy of the shared spec; every relative link resolves."""
import glob
import os
import re
import unicodedata

import pytest

from .support import ROOT

SPEC = os.path.join(os.path.dirname(ROOT), "shared", "spec")
HISTORY = os.path.join(ROOT, "docs", "history")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def _bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def pages():
    """README.md and every page of docs/ but the verbatim copies of docs/history/, as paths from ROOT."""
    found = ["README.md"] + sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "**", "*.md"),
                                                                                recursive=True))
    return [p for p in found if not p.startswith(os.path.join("docs", "history") + os.sep)]


def slug(heading):
    """GitHub's anchor of a heading: lower case, markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    text = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return text.replace(" ", "-")


def anchors(path):
    """The anchors of a Markdown file's headings (GitHub numbers repeats: x, x-1, x-2)."""
    text = FENCE.sub("", _bytes(os.path.join(ROOT, path)).decode())
    seen, found = {}, set()
    for heading in re.findall(r"^#{1,6} (.+?)#*$", text, re.M):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path):
    """The link targets of a Markdown file, outside code."""
    text = FENCE.sub("", _bytes(os.path.join(ROOT, path)).decode())
    text = re.sub(r"`[^`\n]*`", "", text)
    return [a or b for a, b in LINK.findall(text)]


@pytest.mark.parametrize("name", ["contract.md", "origin.md"])
def test_history_copy_of_the_spec_is_verbatim(name):
    source = os.path.join(SPEC, name)
    if not os.path.exists(source):
        pytest.skip(f"no {source} beside the repository: nothing to compare docs/history/{name} with")
    assert _bytes(os.path.join(HISTORY, name)) == _bytes(source), (
        f"docs/history/{name} differs from ../shared/spec/{name}: cp ../shared/spec/{name} docs/history/")


def test_slugs_follow_githubs_rules():
    assert slug("The `service` token") == "the-service-token"
    assert slug("The library's API") == "the-librarys-api"
    assert slug("What to alert on: 5xx and 503") == "what-to-alert-on-5xx-and-503"
    assert slug("Redis over TLS") == "redis-over-tls"


def test_readme_is_short_and_links_every_page_of_docs():
    readme = _bytes(os.path.join(ROOT, "README.md")).decode()
    assert len(readme.splitlines()) <= 160
    linked = {os.path.normpath(t.split("#")[0]) for t in links("README.md")}
    top = {os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "docs", "*.md"))}
    assert top - linked == set()
    assert "```mermaid" in readme and "docs/console.png" in readme


def test_no_word_of_our_history_stands_unexplained_in_the_docs():
    words = ["the origin's examples", "design card", "contract v1.1", "../shared/bench", "B1,", "B2,", "B3,",
             "(B1", "(B2", "(B3"]
    found = [(page, word) for page in pages() for word in words
             if word.lower() in _bytes(os.path.join(ROOT, page)).decode().lower()]
    assert found == []


@pytest.mark.parametrize("page", pages())
def test_every_relative_link_and_anchor_resolves(page):
    problems = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # http:, https:, mailto:
        path, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        if resolved.startswith(".."):
            problems.append(f"{target}: outside the repository")
        elif not os.path.exists(os.path.join(ROOT, resolved)):
            problems.append(f"{target}: no {resolved}")
        elif anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading #{anchor} in {resolved}")
    assert problems == []
