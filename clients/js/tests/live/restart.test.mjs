// A server restart mid-session (SIGTERM, then the same port again): the client comes back by itself,
// with the roster as the server has it and its chat joined again.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CHAT, control, convergence, live, open, rest, setStatus, tenant, until } from "./service.mjs";

test("the server restarts mid-session; the client reconnects, resyncs and rejoins its chat", live, async (t) => {
  const { url } = await control("web");
  const { org, id, token } = tenant();
  await setStatus(id(1), org, "online", "", url);
  const { client, seen } = open(t, { url, token: () => token(9), mode: "diff" });
  await client.ready;
  await client.joinChat(CHAT);

  const restarted = control("restart", { url });
  await until(() => client.connection === "reconnecting", { what: "the client to lose the server" });
  await restarted;
  // While nobody was connected to hear it.
  await control("silent", { org, agent_id: id(1), status: "away", message: "while it restarted" });
  await until(() => client.connection === "connected", { timeout: 15_000, what: "the client to come back" });
  await convergence(client, id(9), org, { url });
  assert.equal(client.agent(id(1)).status_message, "while it restarted");

  await rest("POST", "/typing/", id(2), { org, body: { chat_id: CHAT }, url });
  await until(() => seen.typing.some((e) => e.agent_id === id(2) && e.typing), { what: "typing in the rejoined chat" });
  assert.deepEqual(seen.error, []);
});
