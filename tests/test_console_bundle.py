"""The console's browser build of clients/js (presence_app/static/vendor/presence-app-client.js) is committed, so
the app serves it with only Python; these tests fail when it is stale against clients/js/src."""
import hashlib
import os
import re
import shutil
import subprocess

import pytest

from .support import ROOT

PACKAGE = os.path.join(ROOT, "clients", "js")
BUNDLE = os.path.join(ROOT, "presence_app", "static", "vendor", "presence-app-client.js")
REBUILD = "rebuild it: cd clients/js && npm ci && npm run bundle"


def sources_digest():
    """sha256 over clients/js/src (paths and contents, sorted) and package-lock.json, as scripts/bundle.mjs makes it."""
    files = [os.path.relpath(os.path.join(folder, name), PACKAGE).replace(os.sep, "/")
             for folder, _dirs, names in os.walk(os.path.join(PACKAGE, "src")) for name in names]
    digest = hashlib.sha256()
    for path in sorted([*files, "package-lock.json"]):
        with open(os.path.join(PACKAGE, path), "rb") as handle:
            digest.update(path.encode() + b"\0" + handle.read() + b"\0")
    return digest.hexdigest()


def banner():
    with open(BUNDLE, encoding="utf-8") as handle:
        return handle.readline()


def test_the_committed_bundle_is_built_from_the_current_sources():
    built_from = re.search(r"from sources sha256:([0-9a-f]{64}) \*/", banner())
    assert built_from, "the bundle's banner names the digest of its sources"
    assert built_from.group(1) == sources_digest(), f"the bundle is stale against clients/js/src: {REBUILD}"


def test_the_bundle_carries_socket_io_clients_version_and_license():
    assert re.match(r"/\*! presence-app-client \d+\.\d+\.\d+ with socket.io-client 4\.\d+\.\d+ \(MIT License", banner())


@pytest.mark.skipif(not (shutil.which("node") and shutil.which("npm")), reason="Node.js and npm are not installed")
def test_rebuilding_the_bundle_gives_the_committed_file(tmp_path):
    if not os.path.isdir(os.path.join(PACKAGE, "node_modules", "esbuild")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PACKAGE, check=True, capture_output=True,
                       timeout=300)
    out = tmp_path / "bundle.js"
    subprocess.run(["node", "scripts/bundle.mjs", str(out)], cwd=PACKAGE, check=True, capture_output=True, timeout=120)
    with open(BUNDLE, "rb") as handle:
        assert out.read_bytes() == handle.read(), f"the committed bundle differs from a fresh build: {REBUILD}"
