"""The contract ships in docs/, verbatim from the shared spec; the README links only to what the repository holds."""
import os
import re

import pytest

from .support import ROOT

SPEC = os.path.join(os.path.dirname(ROOT), "shared", "spec")


def _bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


@pytest.mark.parametrize("name", ["contract.md", "origin.md"])
def test_docs_copy_of_the_spec_is_verbatim(name):
    source = os.path.join(SPEC, name)
    if not os.path.exists(source):
        pytest.skip(f"no {source} beside the repository: nothing to compare docs/{name} with")
    assert _bytes(os.path.join(ROOT, "docs", name)) == _bytes(source), (
        f"docs/{name} differs from ../shared/spec/{name}: copy it again (cp ../shared/spec/{name} docs/)")


def test_readme_links_the_contract_in_the_repository_and_every_local_link_resolves():
    readme = _bytes(os.path.join(ROOT, "README.md")).decode()
    assert "[`docs/contract.md`](docs/contract.md)" in readme
    targets = [t for t in re.findall(r"\]\(([^)#\s]+)", readme) if not re.match(r"[a-z]+:", t)]
    assert "docs/contract.md" in targets
    missing = [t for t in targets if t.startswith("..") or not os.path.exists(os.path.join(ROOT, t))]
    assert missing == []
