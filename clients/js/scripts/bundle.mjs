// The browser build the console loads: src/ and socket.io-client in one minified ES module, written to
// presence_app/static/vendor/presence-app-client.js (committed, so the app needs no Node to serve it).
// Its banner carries a digest of what it is built from; tests/test_console_bundle.py fails when they differ.
// Usage: node scripts/bundle.mjs [outfile]
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = fileURLToPath(new URL("..", import.meta.url));
const out = process.argv[2] ?? join(here, "../../presence_app/static/vendor/presence-app-client.js");

/** sha256 over src/ (paths and contents, sorted) and package-lock.json: what the bundle is made of. */
export function digest() {
  const hash = createHash("sha256");
  const walk = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : [join(dir, entry.name)]);
  const files = [...walk(join(here, "src")), join(here, "package-lock.json")]
    .map((file) => relative(here, file).split("\\").join("/")).sort();
  for (const file of files) hash.update(file + "\0").update(readFileSync(join(here, file))).update("\0");
  return hash.digest("hex");
}

const version = (name) => JSON.parse(readFileSync(join(here, name, "package.json"), "utf8")).version;
const banner = `/*! presence-app-client ${version(".")} with socket.io-client ${version("node_modules/socket.io-client")} ` +
  `(MIT License, https://github.com/socketio/socket.io), built by clients/js/scripts/bundle.mjs from sources ` +
  `sha256:${digest()} */`;

await build({
  entryPoints: [join(here, "src/index.ts")], bundle: true, minify: true, format: "esm", platform: "browser",
  target: "es2020", outfile: out, banner: { js: banner }, legalComments: "none", logLevel: "warning",
});
console.log(`wrote ${out}`);
