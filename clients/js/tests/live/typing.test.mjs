// The typing helper: touch() on every keystroke, typing_start at most every renewMs, a stop by itself after
// a quiet spell, and what another console in the chat sees of it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CHAT, live, open, sleep, tenant, until } from "./service.mjs";

test("keystrokes start typing once, renew at most every renewMs, and stop by themselves after quietMs",
  live, async (t) => {
    const { id, token } = tenant();
    const writer = open(t, { token: token(1, { name: "Ana" }), typing: { renewMs: 400, quietMs: 600 } });
    const reader = open(t, { token: token(2) });
    await Promise.all([writer.client.ready, reader.client.ready]);
    await writer.client.joinChat(CHAT);
    await reader.client.joinChat(CHAT);
    const starts = () => writer.sent.filter(([event]) => event === "typing_start").length;
    const stops = () => writer.sent.filter(([event]) => event === "typing_stop").length;

    const handle = writer.client.typing(CHAT);
    assert.equal(writer.client.typing(CHAT), handle); // one handle per chat
    const began = Date.now();
    for (let key = 0; key < 10; key += 1) {
      handle.touch(); // a keystroke every 100 ms for a second
      await sleep(100);
    }
    const typed = Date.now() - began - 100;
    assert.ok(handle.active);
    assert.ok(starts() >= 2 && starts() <= 1 + typed / 400, `${starts()} typing_start in ${typed} ms of keystrokes`);
    await until(() => reader.client.typers(CHAT).length, { what: "the reader to see typing" });
    assert.deepEqual(reader.client.typers(CHAT).map((typer) => [typer.agent_id, typer.from]), [[id(1), "Ana"]]);
    assert.equal(stops(), 0);

    await until(() => !handle.active, { what: "the automatic stop" });
    await until(() => reader.seen.typing.length === 2, { what: "the reader to see the stop" });
    assert.deepEqual(reader.seen.typing.map((e) => [e.agent_id, e.from, e.typing]), [[id(1), "Ana", true], [id(1), "Ana", false]]);
    assert.equal(stops(), 1);
    assert.deepEqual(reader.client.typers(CHAT), []);
    assert.deepEqual(writer.seen.typing, []); // an agent's own typing is not news to itself

    handle.touch();
    await until(() => reader.seen.typing.length === 3, { what: "typing again" });
    await handle.stop();
    await handle.stop(); // stopping twice sends one typing_stop
    await until(() => reader.seen.typing.length === 4, { what: "the explicit stop" });
    assert.equal(stops(), 2);

    await reader.client.leaveChat(CHAT);
    handle.touch();
    await handle.stop();
    // A later event on the same server arrives after them: by then, a chat left has stayed silent.
    const presence = await writer.client.setStatus({ status: "busy", message: "sentinel" });
    await until(() => reader.client.agent(id(1))?.seq === presence.seq, { what: "the sentinel" });
    assert.equal(reader.seen.typing.length, 4);
  });
