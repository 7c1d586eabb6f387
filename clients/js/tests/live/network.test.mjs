// Reconnects: a dropped transport, and a network cut by a TCP proxy that drops every connection for a few
// seconds while statuses change; afterwards the roster equals the server's and typing is restored.
import assert from "node:assert/strict";
import { createConnection, createServer } from "node:net";
import { test } from "node:test";
import { CHAT, URL, control, convergence, live, open, rest, setStatus, sleep, tenant, until } from "./service.mjs";

/** A TCP proxy to the service that can cut every connection, and refuse new ones, until healed. */
async function proxy(t) {
  const upstream = new globalThis.URL(URL);
  const pairs = new Set();
  let cut = false;
  const server = createServer((downstream) => {
    if (cut) return downstream.destroy();
    const up = createConnection(Number(upstream.port), upstream.hostname);
    const pair = [downstream, up];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      downstream.destroy();
      up.destroy();
    };
    downstream.on("error", end).on("close", end).pipe(up);
    up.on("error", end).on("close", end).pipe(downstream);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => server.close());
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    cut() {
      cut = true;
      for (const pair of pairs) pair.forEach((socket) => socket.destroy());
    },
    heal() {
      cut = false;
    },
  };
}

for (const mode of ["diff", "v1"]) {
  test(`${mode}: a network cut of 3 s while statuses change; then the roster equals the server's, typing is back`,
    live, async (t) => {
      const { org, id, token } = tenant();
      for (const n of [1, 2, 3]) await setStatus(id(n), org, "online");
      const net = await proxy(t);
      const { client, seen, got } = open(t, { url: net.url, token: () => token(9), mode, ackTimeoutMs: 500 });
      await client.ready;
      await client.joinChat(CHAT);

      net.cut();
      await until(() => client.connection === "reconnecting", { what: "the client to notice the cut" });
      const lost = client.heartbeat().then(() => null, (error) => error);
      for (let round = 0; round < 6; round += 1) {
        await setStatus(id(1 + (round % 3)), org, ["busy", "away", "offline"][round % 3], `during the cut ${round}`);
      }
      await rest("POST", "/typing/", id(2), { org, body: { chat_id: CHAT } }); // missed: the client is away
      assert.equal((await lost).code, "timeout");
      await sleep(3000 - 6 * 20);
      const states = seen.state.length;
      net.heal();

      await until(() => client.connection === "connected", { what: "the client to reconnect", timeout: 15_000 });
      await convergence(client, id(9), org);
      await until(() => client.typers(CHAT).some((typer) => typer.agent_id === id(2)), { what: "typing restored" });
      assert.deepEqual(seen.state.slice(0, states).map(([state]) => state), ["connected", "reconnecting"]);
      assert.deepEqual(seen.typing.filter((e) => e.agent_id === id(2)).map((e) => e.typing), [true]);
      assert.equal(got.filter(([event]) => event === "presence_state").length, 2); // the resync of the reconnect
    });
}

test("a dropped transport: the client reconnects and the new roster brings what it missed", live, async (t) => {
  const { org, id, token } = tenant();
  await setStatus(id(1), org, "online");
  const { client, seen } = open(t, { token: token(9), mode: "diff" });
  await client.ready;
  client.socket.io.engine.close(); // as a network error would
  await control("silent", { org, agent_id: id(1), status: "busy", message: "never announced" });
  await until(() => seen.state.filter(([state]) => state === "connected").length === 2, { what: "a reconnect" });
  const roster = await convergence(client, id(9), org);
  assert.equal(roster.find((a) => a.agent_id === id(1)).status_message, "never announced");
});
