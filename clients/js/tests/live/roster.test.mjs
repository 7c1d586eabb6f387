// The roster against the real service, in v1 and diff mode: the first presence_state, then every change by seq.
import assert from "node:assert/strict";
import { test } from "node:test";
import { control, convergence, live, open, rest, setStatus, tenant, until } from "./service.mjs";

const STATUSES = ["online", "busy", "away", "offline"];

for (const mode of ["v1", "diff"]) {
  test(`${mode} mode: ready brings the org's roster, and the roster follows every change by seq`, live, async (t) => {
    const { org, id, token } = tenant();
    await setStatus(id(1), org, "busy", "In a meeting");
    await setStatus(id(2), org, "online");
    const { client, seen, got, sent } = open(t, { token: token(9), mode });
    const roster = await client.ready;
    assert.deepEqual(roster.map((a) => a.agent_id).sort(), [id(1), id(2), id(9)]);
    assert.equal(client.agent(id(1)).status_message, "In a meeting");
    assert.equal(client.agentId, id(9));
    assert.equal(client.connection, "connected");
    assert.ok(seen.change[0].full, "the first roster is a full change");
    let heard = 0;
    const stop = client.on("change", () => (heard += 1));
    stop();

    for (let round = 0; round < 12; round += 1) {
      await setStatus(id(1 + (round % 3)), org, STATUSES[round % 4], `round ${round}`);
    }
    await rest("POST", "/presence/set-status/", id(9), { org, body: { status: "away", message: "last" } });
    await convergence(client, id(9), org);
    assert.equal(heard, 0); // a listener that stopped listening hears nothing

    // Seen in seq order, each agent's never going back; in the mode asked for; nothing missed, so no sync.
    const byAgent = {};
    for (const change of seen.change) {
      for (const agent of change.agents) (byAgent[agent.agent_id] ??= []).push(agent.seq);
    }
    for (const seqs of Object.values(byAgent)) assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    const events = new Set(got.map(([event]) => event));
    assert.equal(events.has(mode === "v1" ? "agent_presence_changed" : "presence_diff"), true);
    assert.equal(events.has(mode === "v1" ? "presence_diff" : "agent_presence_changed"), false);
    assert.deepEqual(sent.filter(([event]) => event === "sync"), []);
  });
}

test("diff mode: a batch that skips an agent's seq (changes inside one window) is applied without a sync",
  live, async (t) => {
    const { org, id, token } = tenant();
    const { client, sent, seen } = open(t, { token: token(9), mode: "diff" });
    await client.ready;
    const skipped = () => {
      const seqs = seen.change.flatMap((c) => c.agents).filter((a) => a.agent_id === id(1)).map((a) => a.seq);
      return seqs.some((seq, i) => i > 0 && seq > seqs[i - 1] + 1);
    };
    // Bursts of changes of one agent, until one batch window held more than one of them.
    for (let burst = 0; burst < 5 && !skipped(); burst += 1) {
      await Promise.all(["busy", "away", "online"].map((status) => setStatus(id(1), org, status, `burst ${burst}`)));
      await convergence(client, id(9), org);
    }
    assert.ok(skipped(), "no batch skipped a seq in five bursts");
    assert.deepEqual(sent.filter(([event]) => event === "sync"), []);
  });

test("v1 mode: a change whose seq skips one (a lost event) makes the client sync, and the sync repairs the rest",
  live, async (t) => {
    const { org, id, token } = tenant();
    await setStatus(id(1), org, "online");
    await setStatus(id(2), org, "online");
    const { client, sent, seen } = open(t, { token: token(9), mode: "v1" });
    await client.ready;
    // Committed with no announcement, as after a crash between commit and emit: nobody hears these two.
    await control("silent", { org, agent_id: id(1), status: "busy", message: "missed" });
    await control("silent", { org, agent_id: id(2), status: "away", message: "missed too" });
    assert.equal(client.agent(id(2)).status, "online");
    await setStatus(id(1), org, "away", "heard"); // seq + 2 at the client: a gap
    const roster = await convergence(client, id(9), org);
    assert.equal(roster.find((a) => a.agent_id === id(2)).status_message, "missed too"); // only a sync brings it
    const syncs = sent.filter(([event]) => event === "sync").map(([, data]) => data);
    assert.equal(syncs.length, 1, "one sync repairs the gap");
    assert.ok(syncs[0].since === undefined || /^v1\./.test(syncs[0].since), "with the roster's cursor, if it had one");
    assert.deepEqual(seen.error, []);
  });
