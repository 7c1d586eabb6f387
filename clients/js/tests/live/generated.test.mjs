// The committed event types are what the generator makes of the running service's AsyncAPI document:
// when the service's events change, this fails until `npm run generate -- <service url>` is run.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { TARGETS, generate, load } from "../../scripts/generate.mjs";
import { URL, live } from "./service.mjs";

test("src/generated/events.ts and clients/presence-events.d.ts match the service's AsyncAPI document", live,
  async () => {
    const expected = await generate(await load(URL));
    for (const target of TARGETS) {
      const committed = await readFile(target, "utf8");
      assert.ok(committed === expected,
        `${target.pathname} is out of date with the service's document: run \`npm run generate -- ${URL}\` in clients/js`);
    }
    assert.match(expected, /export interface ServerToClientEvents \{[^}]*presence_state: /s);
  });
