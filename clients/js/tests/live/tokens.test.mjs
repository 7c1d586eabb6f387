// Tokens: renewed on the open socket before they end (refresh_token), and, when that fails, the server's
// session_expired and disconnect are met with a fresh token and a reconnect.
import assert from "node:assert/strict";
import { test } from "node:test";
import { live, open, rest, sleep, tenant, until } from "./service.mjs";

test("8 s tokens over 30 s: each renewed on the open socket, with no disconnect", { ...live, timeout: 60_000 },
  async (t) => {
    const { org, id, token } = tenant();
    const minted = [];
    const { client, seen, sent } = open(t, {
      token: async () => {
        minted.push(Date.now());
        return token(9, { expIn: 8 });
      },
    });
    await client.ready;
    const socketId = client.socket.id;
    await sleep(30_000);

    const beat = await client.heartbeat(); // the first token ended 22 s ago: only a renewed session answers
    assert.equal(beat.agent_id, id(9));
    assert.equal(client.socket.id, socketId);
    assert.deepEqual(seen.state.map(([state]) => state), ["connected"]);
    assert.deepEqual(seen.error, []);
    assert.deepEqual(sent.filter(([event]) => event === "sync"), []); // presence_state came: no fallback sync
    const refreshes = sent.filter(([event]) => event === "refresh_token").length;
    assert.ok(refreshes >= 4 && refreshes === minted.length - 1, `${refreshes} refreshes, ${minted.length} tokens`);
    const ledger = await rest("GET", `/presence/${id(9)}/history/`, id(9), { org });
    assert.deepEqual(ledger.changes.map((change) => change.reason), ["connected"]); // never disconnected
  });

test("a renewal that fails: at the token's end the server closes the socket, and the client reconnects",
  live, async (t) => {
    const { id, token } = tenant();
    let calls = 0;
    const { client, seen, got } = open(t, {
      token: () => {
        calls += 1;
        if (calls === 2) throw new Error("the platform's login is down");
        return token(9, { expIn: 3 });
      },
    });
    await client.ready;
    const first = client.socket.id;
    await until(() => seen.state.filter(([state]) => state === "connected").length === 2, {
      timeout: 15_000, what: "a reconnect after the session ended",
    });
    assert.ok(got.some(([event]) => event === "session_expired"));
    assert.notEqual(client.socket.id, first);
    assert.equal(seen.error[0].code, "token");
    assert.match(seen.error[0].message, /login is down/);
    assert.equal((await client.heartbeat()).agent_id, id(9));
  });

test("a token given as a string cannot be renewed: at its end the client closes with session_expired",
  live, async (t) => {
    const { token } = tenant();
    const { client, seen } = open(t, { token: token(9, { expIn: 2 }) });
    await client.ready;
    await until(() => client.connection === "closed", { timeout: 10_000, what: "the client to close" });
    assert.deepEqual(seen.error.map((error) => error.code), ["session_expired"]);
    await assert.rejects(client.heartbeat(), { code: "closed" });
  });
