"""Schemathesis against a live server, as `st run --checks all` runs it: every check, every phase, every operation.

A request the OpenAPI document calls valid is accepted, one it calls invalid is refused with a 4xx,
no answer is a 5xx or undocumented, and no operation is mostly 429. JSON Schema cannot compare
two values, read a clock or the org's data, so five rules live in the fields' descriptions, and the
hook below keeps valid requests within them: a range's `since` at or before its `until` (a report's
at most 31 days apart), a set-status `until` ahead of the server's now by at most 24 h, each reason
code once in a list, a set-status `reason_code` one of the org's; and a webhook URL's host resolves (to
public addresses only, or any with WEBHOOK_ALLOW_PRIVATE). Negative requests are never touched.
"""
import re
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import load_all_checks
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

from .support import bearer

pytestmark = pytest.mark.processes

API = "/api/v1"
CALLER = 7
# RFC 3339 date-time (the document's format) in the years its pattern allows.
RFC3339 = re.compile(r"[1-8]\d{3}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)", re.ASCII)
# Every status the document lists as a refusal of bad input: 413 too (a body made invalid by its length).
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
HOOK_URL = "http://127.0.0.1:9/hooks"  # the server below may reach private addresses; nothing listens there
RANGES = {f"{API}/reports/time-in-status/": timedelta(days=31), f"{API}/presence/{{agent_id}}/history/": None}


def _instant(value):
    """The moment of a schema-valid instant, else None."""
    if isinstance(value, str) and RFC3339.fullmatch(value):
        try:
            return datetime.fromisoformat(value.upper())
        except ValueError:
            return None
    return None


def _within_the_rules_json_schema_cannot_state(ctx, case, **_kwargs):
    """Keep a valid request within the rules only the descriptions state."""
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return
    path, query, body = case.operation.path, case.query, case.body
    if path in RANGES and query:
        since, until = _instant(query.get("since")), _instant(query.get("until"))
        if since and until and (until < since or (RANGES[path] and until - since > RANGES[path])):
            case.query = dict(query, until=query["since"])
    if path.endswith("/set-status/") and isinstance(body, dict):
        if _instant(body.get("until")):
            case.body = body = dict(body, until=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
        if isinstance(body.get("reason_code"), str):  # the org's list changes under the run: name none
            case.body = dict(body, reason_code=None)
    if path == f"{API}/webhooks/" and isinstance(body, dict) and isinstance(body.get("url"), str):
        case.body = dict(body, url=HOOK_URL)  # a host that resolves, with no lookup
    if path.endswith("/reason-codes/") and isinstance(body, dict) and isinstance(body.get("codes"), list):
        seen = set()
        for n, item in enumerate(body["codes"]):
            if isinstance(item, dict) and isinstance(item.get("code"), str):
                item["code"] = item["code"] if item["code"] not in seen else f"dup{n}"
                seen.add(item["code"])


def run(url, seed, examples=25):
    """Run every phase with every check; answer (failures, statuses by operation, seconds)."""
    load_all_checks()
    config = SchemathesisConfig.from_dict({
        "seed": seed, "continue-on-failure": True,
        "headers": dict(bearer(CALLER, name="Ana", role="supervisor", exp_in=3600)),
        # Clients send UTF-8 JSON, which cannot carry a lone surrogate (the document still forbids them).
        "generation": {"max-examples": examples, "codec": "utf-8"},
        "checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}},
    })
    schema = schemathesis.openapi.from_url(f"{url}{API}/openapi.json", config=config)
    failures, statuses, started = {}, {}, time.monotonic()
    hook = schemathesis.hook("before_call")(_within_the_rules_json_schema_cannot_state)  # a global-only hook
    try:
        for event in from_schema(schema).execute():
            _record(event, failures, statuses)
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(hook)
    return failures, statuses, time.monotonic() - started


def _record(event, failures, statuses):
    if isinstance(event, events.ScenarioFinished):
        for node in (n for nodes in event.recorder.checks.values() for n in nodes if n.failure_info):
            failures.setdefault((event.recorder.label, node.failure_info.failure.title), node.failure_info.code_sample)
        for interaction in event.recorder.interactions.values():
            if interaction.response is not None and event.recorder.label != "Stateful tests":
                statuses.setdefault(event.recorder.label, Counter())[interaction.response.status_code] += 1
    elif isinstance(event, (events.NonFatalError, events.FatalError)):
        failures[("engine", type(event).__name__)] = str(getattr(event, "value", event))


def test_every_operation_keeps_to_its_document_under_every_check_and_phase(processes):
    _, url = processes.web(API_RATE_LIMIT="100000 per second", LOGIN_RATE_LIMIT="100000 per minute",
                           WEBHOOK_ALLOW_PRIVATE="1")
    failures, statuses, seconds = run(url, seed=23)

    assert failures == {}, "\n\n".join(f"{label}: {title}\n{sample}" for (label, title), sample in failures.items())
    document = schemathesis.openapi.from_url(f"{url}{API}/openapi.json").raw_schema
    operations = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item
                  if method in {"get", "post", "put", "delete", "patch"}}
    assert set(statuses) >= operations - {f"GET {API}/openapi.json"}, operations - set(statuses)
    mostly_429 = {label for label, counts in statuses.items() if counts[429] * 2 > sum(counts.values())}
    assert not mostly_429, statuses
    succeeded = {label for label, counts in statuses.items() if any(200 <= status < 300 for status in counts)}
    assert {f"GET {API}/presence/me/", f"POST {API}/presence/set-status/", f"PUT {API}/reason-codes/",
            f"GET {API}/presence/{{agent_id}}/history/", f"GET {API}/reports/time-in-status/",
            f"PUT {API}/presence/{{agent_id}}/load/", f"POST {API}/presence/{{agent_id}}/set-status/"} <= succeeded
    print(f"schemathesis: {sum(map(sum, (c.values() for c in statuses.values())))} requests in {seconds:.0f} s")
