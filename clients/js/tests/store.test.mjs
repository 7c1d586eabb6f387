// The roster store alone, on plain fixtures: no server, no socket, no timer.
import assert from "node:assert/strict";
import { test } from "node:test";
import { RosterStore } from "../dist/index.js";

const T0 = "2025-10-11T21:00:00Z";
const T1 = "2025-10-11T21:05:00Z";

function presence(agent_id, seq, fields = {}) {
  return {
    agent_id, name: `Agent ${agent_id}`, status: "offline", status_message: "", last_heartbeat: null,
    websocket_connected: false, connections: 0, status_changed_at: T0, is_available: false, minutes_in_status: 3,
    is_inactive: false, seq, reason_code: null, status_until: null, ...fields,
  };
}

function change(agent_id, seq, status, fields = {}) {
  return {
    agent_id, status, message: "", timestamp: T1, name: `Agent ${agent_id}`, previous_status: "offline",
    websocket_connected: false, is_available: false, reason: "manual", seq, reason_code: null, ...fields,
  };
}

function ready(agents, options) {
  const store = new RosterStore(options);
  store.state({ agents });
  return store;
}

const seqs = (store) => Object.fromEntries([...store.roster].map(([id, agent]) => [id, agent.seq]));

test("a whole roster replaces the known one, and says who came and who left", () => {
  const store = ready([presence(1, 4), presence(2, 1)]);
  const result = store.state({ agents: [presence(1, 5, { status: "busy" }), presence(3, 1)], cursor: "c1" });
  assert.deepEqual(seqs(store), { 1: 5, 3: 1 });
  assert.deepEqual(result.agents.map((a) => a.agent_id), [1, 3]);
  assert.deepEqual(result.removed, [2]);
  assert.equal(result.full, true);
  assert.equal(store.cursor, "c1");
});

test("a whole roster built before a change we already applied keeps the newer entry", () => {
  const store = ready([presence(1, 4)]);
  store.changes([change(1, 5, "busy")]);
  store.state({ agents: [presence(1, 4)] });
  assert.equal(store.roster.get(1).status, "busy");
  assert.equal(store.roster.get(1).seq, 5);
});

test("changes apply in seq order; stale and repeated ones are ignored", () => {
  const store = ready([presence(1, 4)]);
  const applied = store.changes([change(1, 5, "online", { websocket_connected: true, is_available: true })]);
  assert.equal(applied.gap, false);
  assert.deepEqual(applied.agents.map((a) => [a.agent_id, a.seq, a.status]), [[1, 5, "online"]]);
  for (const stale of [change(1, 5, "away"), change(1, 3, "busy")]) {
    const again = store.changes([stale]);
    assert.deepEqual([again.agents, again.removed, again.gap], [[], [], false]);
  }
  assert.equal(store.roster.get(1).status, "online");
  assert.equal(store.roster.get(1).connections, 1);
});

test("a change tells what it carries; the rest is kept, and a new status restarts its clock", () => {
  const store = ready([presence(1, 4, { last_heartbeat: T0, status_until: T1, minutes_in_status: 7 })]);
  store.changes([change(1, 5, "busy", { message: "lunch", reason_code: "meal" })]);
  const agent = store.roster.get(1);
  assert.deepEqual(
    [agent.status, agent.status_message, agent.reason_code, agent.status_changed_at, agent.minutes_in_status],
    ["busy", "lunch", "meal", T1, 0]);
  assert.equal(agent.last_heartbeat, T0);
  assert.equal("message" in agent || "reason" in agent || "previous_status" in agent || "timestamp" in agent, false);
  store.changes([change(1, 6, "busy", { previous_status: "busy", message: "still", timestamp: "2025-10-11T22:00:00Z" })]);
  assert.equal(store.roster.get(1).status_changed_at, T1); // same status: its clock runs on
  store.changes([change(1, 7, "online", { previous_status: "busy", reason: "expired" })]);
  assert.equal(store.roster.get(1).status_until, null);
});

test("v1: a change that skips a seq is applied and reported as a gap", () => {
  const store = ready([presence(1, 4), presence(2, 1)]);
  const applied = store.changes([change(1, 7, "busy")]);
  assert.equal(applied.gap, true);
  assert.equal(store.roster.get(1).seq, 7);
});

test("diff mode: a batch keeps each agent's latest change, so a skipped seq is no gap", () => {
  const store = ready([presence(1, 4), presence(2, 1)], { coalesced: true });
  const applied = store.changes([change(1, 7, "busy"), change(2, 2, "online")]);
  assert.equal(applied.gap, false);
  assert.deepEqual(seqs(store), { 1: 7, 2: 2 });
});

test("an agent never seen is added by its change; in v1 a seq past 1 means its presence was missed", () => {
  for (const coalesced of [false, true]) {
    const store = ready([presence(1, 4)], { coalesced });
    const first = store.changes([change(9, 1, "offline", { websocket_connected: true })]);
    assert.equal(first.gap, false);
    const added = store.roster.get(9);
    assert.deepEqual([added.agent_id, added.name, added.seq, added.connections, added.status_changed_at],
      [9, "Agent 9", 1, 1, T1]);
    assert.equal(store.changes([change(10, 3, "online")]).gap, !coalesced);
    assert.equal(store.roster.get(10).status, "online");
  }
});

test("changes that come before the first roster wait for it, and are applied by seq after it", () => {
  const store = new RosterStore();
  const early = store.changes([change(1, 5, "busy"), change(2, 3, "away")]);
  assert.deepEqual([early.agents, store.ready, store.roster.size], [[], false, 0]);
  const result = store.state({ agents: [presence(1, 4), presence(2, 3)] });
  assert.equal(store.ready, true);
  assert.equal(store.roster.get(1).status, "busy"); // 5 follows the roster's 4
  assert.equal(store.roster.get(2).status, "offline"); // 3 is in the roster already: stale
  assert.equal(result.gap, false);
  assert.deepEqual(result.agents.map((a) => [a.agent_id, a.seq]), [[1, 4], [2, 3], [1, 5]]);
});

test("a change that waited for the roster and skips a seq is a gap once the roster is in", () => {
  const store = new RosterStore();
  store.changes([change(1, 9, "busy")]);
  assert.equal(store.state({ agents: [presence(1, 4)] }).gap, true);
});

test("a deactivated agent leaves the roster; a stale deactivation does not remove it", () => {
  const store = ready([presence(1, 4), presence(2, 8)]);
  const applied = store.changes([change(1, 5, "offline", { reason: "deactivated" })]);
  assert.deepEqual([applied.removed, applied.gap], [[1], false]);
  assert.equal(store.roster.has(1), false);
  store.changes([change(2, 8, "offline", { reason: "deactivated" })]);
  assert.equal(store.roster.has(2), true);
});

test("an incremental sync merges what changed after the cursor and removes who left", () => {
  const store = ready([presence(1, 4), presence(2, 2), presence(3, 1)]);
  store.cursor = "c1";
  const applied = store.sync({
    full: false, agents: [presence(1, 6, { status: "away" }), presence(2, 1), presence(4, 2)], removed: [3],
    cursor: "c2",
  });
  assert.deepEqual(seqs(store), { 1: 6, 2: 2, 4: 2 });
  assert.deepEqual(applied.agents.map((a) => a.agent_id), [1, 4]);
  assert.deepEqual([applied.removed, applied.full, store.cursor], [[3], false, "c2"]);
});

test("a full sync (or one without `full`) replaces the roster like presence_state", () => {
  for (const full of [true, undefined]) {
    const store = ready([presence(1, 4), presence(2, 2)]);
    const applied = store.sync({ full, agents: [presence(2, 3)], cursor: full ? "c9" : undefined });
    assert.deepEqual(seqs(store), { 2: 3 });
    assert.deepEqual([applied.removed, applied.full], [[1], true]);
    assert.equal(store.cursor, full ? "c9" : null);
  }
});

test("a presence from an ack applies when newer, refreshes quietly when equal, never goes back", () => {
  const store = ready([presence(1, 4)]);
  assert.deepEqual(store.presence(presence(1, 5, { status: "busy" })).agents.map((a) => a.seq), [5]);
  const quiet = store.presence(presence(1, 5, { status: "busy", last_heartbeat: T1 }));
  assert.deepEqual(quiet.agents, []);
  assert.equal(store.roster.get(1).last_heartbeat, T1);
  store.presence(presence(1, 3));
  assert.equal(store.roster.get(1).seq, 5);
});

test("with a subscription, a change that carries teams outside it removes the agent (v1.2)", () => {
  const store = ready([presence(1, 4, { teams: ["billing"] }), presence(2, 1, { teams: ["sales"] })], { self: 5 });
  store.subscribe({ teams: ["billing"], agentIds: [2] });
  assert.deepEqual(store.changes([change(1, 5, "online", { teams: ["sales"], reason: "profile" })]).removed, [1]);
  store.changes([change(2, 2, "online", { teams: ["sales"] }), change(5, 1, "online", { teams: [] })]);
  assert.deepEqual(seqs(store), { 2: 2, 5: 1 }); // a watched id and the agent itself stay covered
  assert.deepEqual(store.roster.get(2).teams, ["sales"]);
  store.subscribe(null);
  store.changes([change(7, 1, "online", { teams: ["support"] })]);
  assert.equal(store.roster.has(7), true);
});
