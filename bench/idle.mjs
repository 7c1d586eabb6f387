// Idle sockets for bench_sockets.py: COUNT official clients connect (tokens in turn), then sit.
// Prints {"connected", "failed"} once every socket is settled; exits when stdin closes.
//   node bench/idle.mjs URL TOKENS_FILE COUNT
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("../tests/js/package.json", import.meta.url));
const { io } = require("socket.io-client");
const [url, file, count] = process.argv.slice(2);
const tokens = readFileSync(file, "utf8").split("\n").filter(Boolean);
let connected = 0;
let failed = 0;
const sockets = [];
for (let i = 0; i < Number(count); i += 1) {
  const socket = io(url, { auth: { token: tokens[i % tokens.length] }, transports: ["websocket"], reconnection: false });
  socket.on("connect", () => (connected += 1));
  socket.on("connect_error", () => (failed += 1));
  sockets.push(socket);
}
const timer = setInterval(() => {
  if (connected + failed >= Number(count)) {
    clearInterval(timer);
    console.log(JSON.stringify({ connected, failed }));
  }
}, 100);
process.stdin.on("data", () => {});
process.stdin.on("end", () => { sockets.forEach((s) => s.close()); process.exit(0); });
