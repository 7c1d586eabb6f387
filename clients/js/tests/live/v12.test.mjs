// Contract v1.2 through the library: subscriptions, counts, and incremental sync with a cursor. Each test
// runs once the service has the feature (its AsyncAPI document names the event or field) and is skipped,
// saying why, until then.
import assert from "node:assert/strict";
import { test } from "node:test";
import { events, load } from "../../scripts/generate.mjs";
import { URL, control, convergence, live, open, rest, tenant, until } from "./service.mjs";

const document = live.skip ? null : await load(URL);
const { server, client } = document ? events(document) : { server: [], client: [] };
const names = new Set([...server, ...client].map((e) => e.event));
const schemas = document?.components.schemas ?? {};
function needs(feature, present) {
  return { ...live, skip: live.skip || (present ? false : `the service has no ${feature} yet (contract v1.2)`) };
}
const SUBSCRIBE = needs("presence_sub", names.has("presence_sub"));
const COUNTS = needs("presence_counts", names.has("presence_counts"));
const CURSOR = needs("cursor in presence_state and sync", "cursor" in (schemas.StateData?.properties ?? {}) &&
  "full" in (schemas.SyncAck?.properties ?? {}));

/** Agents 1 and 2 in team billing, 3 in sales, each online. */
async function teams(org, id) {
  for (const [n, team] of [[1, "billing"], [2, "billing"], [3, "sales"]]) {
    await rest("POST", "/presence/set-status/", id(n), { org, teams: [team], body: { status: "online" } });
  }
}

test("a subscription: the roster holds its teams' agents and the client itself, and hears only them", SUBSCRIBE,
  async (t) => {
    const { org, id, token } = tenant();
    await teams(org, id);
    const { client } = open(t, { token: token(9), subscribe: { teams: ["billing"] } });
    const ids = (agents) => agents.map((agent) => agent.agent_id).sort((a, b) => a - b);
    assert.deepEqual(ids(await client.ready), [id(1), id(2), id(9)]);
    await rest("POST", "/presence/set-status/", id(3), { org, teams: ["sales"], body: { status: "busy" } });
    await rest("POST", "/presence/set-status/", id(1), { org, teams: ["billing"], body: { status: "away" } });
    await until(() => client.agent(id(1)).status === "away");
    assert.equal(client.agent(id(3)), undefined);

    assert.deepEqual(ids(await client.subscribe({ teams: ["sales"], agentIds: [id(1)] })), [id(1), id(3), id(9)]);
    assert.deepEqual(ids(await client.subscribe({})), [id(1), id(2), id(3), id(9)]);
    const tooMany = Array.from({ length: 21 }, (_, n) => `team${n}`);
    await assert.rejects(client.subscribe({ teams: tooMany }), { code: "limit_exceeded" });
    assert.deepEqual(ids(client.agents()), [id(1), id(2), id(3), id(9)]);
  });

test("counts: presence_counts once connected, then again when a number changes", COUNTS, async (t) => {
  const { org, id, token } = tenant();
  await teams(org, id);
  const { client, seen } = open(t, { token: token(9), counts: true });
  await client.ready;
  await until(() => client.counts(), { what: "presence_counts" });
  const served = await rest("GET", "/presence/counts/", id(9), { org });
  assert.deepEqual(client.counts().org, served.org);
  await rest("POST", "/presence/set-status/", id(3), { org, teams: ["sales"], body: { status: "busy" } });
  await until(() => client.counts().org.busy === served.org.busy + 1, { what: "new counts" });
  assert.ok(seen.counts.length >= 2);
});

test("a reconnect resumes from the cursor of the last roster: auth.since, then a presence_state of only what changed",
  CURSOR, async (t) => {
    const { org, id, token } = tenant();
    await teams(org, id);
    const { client, sent, got } = open(t, { token: token(9), mode: "diff" });
    await client.ready;
    const cursor = got.find(([event]) => event === "presence_state")[1].cursor;
    assert.equal(typeof cursor, "string");
    client.socket.io.engine.close();
    await control("silent", { org, agent_id: id(2), status: "busy", message: "missed" });
    const resumed = () => got.find(([event, data]) => event === "presence_state" && data.full === false);
    await until(resumed, { what: "an incremental presence_state after the reconnect" });
    await convergence(client, id(9), org);
    const [, state] = resumed();
    assert.ok(state.agents.some((agent) => agent.agent_id === id(2) && agent.status_message === "missed"));
    assert.equal(client.agent(id(2)).status_message, "missed");
    assert.equal(client.agent(id(3)).status, "online", "the roster keeps who did not change");
    assert.ok(!sent.some(([event]) => event === "sync"), "no sync needed after a resumed roster");
  });

test("v1: a gap resyncs incrementally with the cursor", CURSOR, async (t) => {
  const { org, id, token } = tenant();
  await teams(org, id);
  const { client, sent } = open(t, { token: token(9), mode: "v1" });
  await client.ready;
  await control("silent", { org, agent_id: id(1), status: "busy", message: "missed" });
  await rest("POST", "/presence/set-status/", id(1), { org, teams: ["billing"], body: { status: "away" } });
  await until(() => sent.some(([event, data]) => event === "sync" && typeof data.since === "string"));
  await convergence(client, id(9), org);
});
