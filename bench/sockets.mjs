// Socket.IO load for bench_requests.py: SOCKETS official clients (one agent each) send EVENTS
// acknowledged events in all, each socket one at a time; prints {"events", "seconds", "failed"}.
//   node bench/sockets.mjs URL TOKENS_FILE SOCKETS EVENTS EVENT DATA_JSON
// socket.io-client comes from tests/js (./dev.py test installs it).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("../tests/js/package.json", import.meta.url));
const { io } = require("socket.io-client");
const [url, file, count, total, event, data] = process.argv.slice(2);
const tokens = readFileSync(file, "utf8").split("\n").filter(Boolean).slice(0, Number(count));
const sockets = await Promise.all(tokens.map((token) => new Promise((resolve, reject) => {
  const socket = io(url, { auth: { token }, transports: ["websocket"], reconnection: false });
  socket.on("connect", () => resolve(socket));
  socket.on("connect_error", reject);
})));
let sent = 0;
let failed = 0;
const started = performance.now();
await Promise.all(sockets.map(async (socket) => {
  while (sent < Number(total)) {
    sent += 1;
    const ack = await socket.timeout(30000).emitWithAck(event, JSON.parse(data));
    if (!ack.ok) failed += 1;
  }
}));
console.log(JSON.stringify({ events: sent, seconds: (performance.now() - started) / 1000, failed }));
sockets.forEach((socket) => socket.close());
process.exit(0);
