// A herd for bench_connect.py: every token connects at once (diff mode, subscribed to its token's teams,
// with counts, as a console of a large org does); prints when all were connected and had their first roster.
//   node bench/connect_herd.mjs URL TOKENS_FILE [teams|plain]
// socket.io-client comes from tests/js (./dev.py test installs it).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("../tests/js/package.json", import.meta.url));
const { io } = require("socket.io-client");
const [url, file, mode] = process.argv.slice(2);
const tokens = readFileSync(file, "utf8").split("\n").filter(Boolean);
const teamsOf = (token) => JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).teams || [];
const started = performance.now();
let refused = 0;
const sockets = await Promise.all(tokens.map((token) => new Promise((resolve) => {
  const auth = mode === "teams" ? { token, presence: "diff", subscribe: { teams: teamsOf(token) }, counts: true }
    : { token };
  const socket = io(url, { auth, transports: ["websocket"], reconnection: false, timeout: 120000 });
  let connected = false;
  let state = mode === "plain"; // the bare baseline sends no roster
  const done = () => connected && state && resolve(socket);
  socket.on("connect", () => { connected = true; done(); });
  socket.on("presence_state", () => { state = true; done(); });
  socket.on("connect_error", () => { refused += 1; resolve(socket); });
})));
console.log(JSON.stringify({ sockets: sockets.length, refused, seconds: (performance.now() - started) / 1000 }));
sockets.forEach((socket) => socket.close());
setTimeout(() => process.exit(0), 200);
