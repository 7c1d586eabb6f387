// The size budget: the built ESM, bundled without socket.io-client and minified (esbuild), at most 12 KB.
import assert from "node:assert/strict";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const BUDGET = 12 * 1024;

test(`the package minified without socket.io-client is at most ${BUDGET} bytes`, async () => {
  const built = await build({
    entryPoints: [new URL("../dist/index.js", import.meta.url).pathname], bundle: true, minify: true,
    format: "esm", external: ["socket.io-client"], write: false, logLevel: "silent",
  });
  const code = built.outputFiles[0].contents;
  console.log(`presence-app-client: ${code.length} bytes minified, ${gzipSync(code).length} gzipped ` +
    `(budget ${BUDGET}), socket.io-client excluded`);
  assert.ok(code.length > 1000, "the bundle holds the library");
  assert.ok(code.length <= BUDGET, `${code.length} bytes minified, over the budget of ${BUDGET}`);
});
