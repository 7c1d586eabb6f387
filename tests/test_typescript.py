"""clients/presence-events.d.ts: the AsyncAPI document's events, fields and acks, strict under tsc, a typed client.

The declarations are generated from the document by clients/js/scripts/generate.mjs (with the package's
own copy, clients/js/src/generated/events.ts); tests/test_js_package.py regenerates them from a running
service and fails when they differ. These checks read them without Node.
"""
import json
import os
import re
import subprocess

import pytest
import requests

from presence_app.errors import vocabulary
from presence_app.models import REASONS, STATUSES

from .clients import JS_DIR, node_missing
from .support import ROOT, token
from .test_asyncapi import DOCUMENT, conforms, messages

DECLARATIONS = os.path.join(ROOT, "clients", "presence-events.d.ts")
TSC = os.path.join(JS_DIR, "node_modules", ".bin", "tsc")
INTERFACE = re.compile(r"^export interface (\w+)(?:<[^>]*>)?(?: extends (\w+))? \{\n(.*?)^\}", re.M | re.S)
MEMBER = re.compile(r"^  (\w+)(\?)?:", re.M)


def _tsc_missing():
    if os.path.exists(TSC):
        return node_missing()
    return node_missing() or "tests/js/node_modules/.bin/tsc is missing: run `npm ci` in tests/js (./dev.py test does)"


needs_tsc = pytest.mark.skipif(_tsc_missing() is not None, reason=str(_tsc_missing()))


def declarations():
    """The .d.ts read as {interface: {member: optional}} and {interface: {member: [its string literals]}}."""
    with open(DECLARATIONS) as handle:
        text = handle.read()
    interfaces, literals = {}, {}
    for name, base, body in INTERFACE.findall(text):
        interfaces[name] = dict(interfaces.get(base, {}))
        interfaces[name].update({member: bool(optional) for member, optional in MEMBER.findall(body)})
        members = re.split(r"^  (?=\w)", body, flags=re.M)
        literals[name] = {m.split(":")[0].rstrip("?"): re.findall(r'"([^"]+)"', m) for m in members if ":" in m}
    return interfaces, literals


def test_declarations_name_the_same_events_as_the_asyncapi_document(client):
    server, calls, acks, _error = messages(client.get(DOCUMENT).get_json())
    interfaces, _ = declarations()
    assert set(interfaces["ServerToClientEvents"]) == set(server)
    assert set(interfaces["ClientToServerEvents"]) == set(calls) == set(acks)


def test_every_declared_shape_has_the_fields_of_the_documents_schema_of_that_name(client):
    document = client.get(DOCUMENT).get_json()
    components = document["components"]["schemas"]
    interfaces, unions = declarations()
    shared = set(interfaces) & set(components)
    # Every payload, data and ack schema of the document is declared.
    referenced = set(re.findall(r'"#/components/schemas/(\w+)"', json.dumps(document["channels"])))
    assert referenced - {"Empty"} <= shared
    for name in shared:
        schema = components[name]
        declared = interfaces[name]
        assert set(declared) == set(schema.get("properties", {})), name
        assert {m for m, optional in declared.items() if not optional} == set(schema.get("required", [])), name
    assert sorted(unions["ErrorAck"]["error"]) == vocabulary() == sorted(
        components["ErrorAck"]["properties"]["error"]["enum"])
    assert sorted(unions["Presence"]["status"]) == sorted(STATUSES)
    assert sorted(unions["ChangeData"]["reason"]) == sorted(REASONS)


@needs_tsc
def test_typed_client_type_checks_strictly_against_the_declarations():
    done = subprocess.run([TSC, "-p", "tsconfig.json"], cwd=JS_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_tsc
def test_a_wrong_use_of_an_event_fails_the_type_check(tmp_path):
    """The check above can fail: without its @ts-expect-error, a wrong status is a type error."""
    with open(os.path.join(JS_DIR, "typed_client.ts")) as handle:
        source = handle.read().replace("  // @ts-expect-error a status outside the four is no StatusIn\n", "")
    wrong, config = (os.path.join(JS_DIR, f"wrong_{tmp_path.name}.{ext}") for ext in ("ts", "json"))
    with open(wrong, "w") as handle:
        handle.write(source)
    with open(config, "w") as handle:
        json.dump({"extends": "./tsconfig.json", "files": [os.path.basename(wrong), "node.d.ts"]}, handle)
    try:
        done = subprocess.run([TSC, "-p", config], cwd=JS_DIR, capture_output=True, text=True, timeout=120)
    finally:
        os.remove(wrong)
        os.remove(config)
    assert done.returncode != 0
    assert "TS2322" in done.stdout and '"asleep"' in done.stdout, done.stdout


@needs_tsc
@pytest.mark.processes
def test_the_typed_client_compiled_runs_against_a_live_server_and_what_it_gets_conforms(processes, tmp_path):
    _, url = processes.web()
    document = requests.get(f"{url}{DOCUMENT}", timeout=10).json()
    server, _calls, acks, error_ack = messages(document)
    build = tmp_path / "build"
    done = subprocess.run([TSC, "-p", "tsconfig.json", "--noEmit", "false", "--outDir", str(build)], cwd=JS_DIR,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    os.symlink(os.path.join(JS_DIR, "node_modules"), build / "node_modules")
    (build / "package.json").write_text('{"type": "module"}\n')
    ran = subprocess.run(["node", str(build / "typed_client.js"), url, token(5, name="Ana")], capture_output=True,
                         text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    output = json.loads(ran.stdout)
    assert output["summary"] == {
        "me": 5, "joined": "5511999999999", "started": True, "typing_from": "Ana", "stopped": True, "beat": 5,
        "set": "busy", "change": "busy", "active": "busy", "synced": 1, "refreshed": True, "left": "5511999999999",
        "incremental": True, "subscribed": 1,
        "refusal": "validation_error"}
    # What socket.io-client decoded off the wire, as the document describes it.
    for event, payload in output["events"]:
        conforms(document, server[event], payload)
    for event, ack in output["acks"]:
        conforms(document, acks[event] if ack["ok"] else error_ack, ack)
    seen = {event for event, _ in output["events"]}
    assert seen == {"presence_state", "typing_start", "typing_stop", "agent_presence_changed"}
    assert {e for e, _ in output["acks"]} == set(acks)
