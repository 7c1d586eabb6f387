// Every promise rejects with a PresenceError whose code is the envelope's `error` (or the library's own).
import assert from "node:assert/strict";
import { test } from "node:test";
import { PresenceError } from "../../dist/index.js";
import { live, open, tenant, token, until } from "./service.mjs";

test("refused client events reject with the envelope's code, message and details", live, async (t) => {
  const { token: mint } = tenant();
  const { client } = open(t, { token: mint(9) });
  await client.ready;
  const refused = await client.setStatus({ status: "BUSY" }).catch((error) => error);
  assert.ok(refused instanceof PresenceError);
  assert.equal(refused.code, "validation_error");
  assert.match(refused.message, /status/);
  assert.ok("status" in refused.details);
  await assert.rejects(client.joinChat("not a chat id!"), { name: "PresenceError", code: "validation_error" });
  await assert.rejects(client.setStatus({ status: "busy", until: new Date(Date.now() + 60_000), forMinutes: 5 }),
    { code: "validation_error" });

  // Over the socket's budget (SOCKET_RATE_LIMIT, 20 per second): refused, not queued.
  const answers = await Promise.allSettled(Array.from({ length: 40 }, () => client.heartbeat()));
  const codes = new Set(answers.filter((a) => a.status === "rejected").map((a) => a.reason.code));
  assert.deepEqual(codes, new Set(["too_many_requests"]));
  assert.ok(answers.some((a) => a.status === "fulfilled"));
});

test("a refused connection rejects ready with the server's code and closes the client", live, async (t) => {
  const forged = token(9).replace(/.$/, (c) => (c === "A" ? "B" : "A"));
  const { client, seen } = open(t, { token: forged });
  await assert.rejects(client.ready, { name: "PresenceError", code: "unauthorized", message: /invalid token/ });
  assert.equal(client.connection, "closed");
  assert.deepEqual(seen.error.map((error) => error.code), ["unauthorized"]);
  await assert.rejects(client.heartbeat(), { code: "closed" });
});

test("a token function that fails is reported (code token) and tried again until it gives a token", live,
  async (t) => {
    const { id, token: mint } = tenant();
    let calls = 0;
    const { client, seen } = open(t, {
      token: async () => {
        calls += 1;
        if (calls === 1) throw new Error("not signed in yet");
        return mint(9);
      },
    });
    const roster = await client.ready;
    assert.ok(roster.some((agent) => agent.agent_id === id(9)));
    assert.deepEqual(seen.error.map((error) => [error.code, error.message]), [["token", "not signed in yet"]]);
  });

test("close() before the roster came rejects ready with code closed", live, async (t) => {
  const { token: mint } = tenant();
  const { client, seen } = open(t, { token: mint(9) });
  client.close();
  await assert.rejects(client.ready, { code: "closed" });
  await until(() => seen.state.some(([state]) => state === "closed"));
  assert.deepEqual(seen.error, []);
});
