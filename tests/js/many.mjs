// Many official socket.io-clients at once against one web process (tests/test_many_sockets.py).
// usage: node many.mjs URL TOKENS_FILE SECONDS
// Prints one JSON line once every socket is connected and has its presence_state (or the time
// is up): {"n", "connected", "got_state", "errors"}; then waits for "close" on stdin.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { io } from "socket.io-client";

const [url, file, seconds] = process.argv.slice(2);
const tokens = readFileSync(file, "utf8").split("\n").filter(Boolean);
let connected = 0;
let gotState = 0;
let lastConnectMs = 0;
const dropped = {};
const errors = [];
const started = Date.now();
const sockets = tokens.map((token) => {
  const socket = io(url, { auth: { token }, transports: ["websocket"], reconnection: false, timeout: 60000 });
  socket.on("connect", () => {
    connected += 1;
    lastConnectMs = Date.now() - started;
  });
  socket.on("presence_state", () => (gotState += 1));
  socket.on("disconnect", (reason) => (dropped[reason] = (dropped[reason] || 0) + 1));
  socket.on("connect_error", (error) => errors.push(error.message));
  return socket;
});
const timer = setInterval(() => {
  const done = gotState + errors.length >= tokens.length;
  if (done || Date.now() - started > Number(seconds) * 1000) {
    clearInterval(timer);
    process.stdout.write(JSON.stringify({ n: tokens.length, connected, got_state: gotState,
      errors: errors.slice(0, 5), error_count: errors.length, last_connect_ms: lastConnectMs, dropped,
      elapsed_ms: Date.now() - started }) + "\n");
  }
}, 100);
createInterface({ input: process.stdin }).on("line", () => {
  sockets.forEach((socket) => socket.close());
  setTimeout(() => process.exit(0), 200);
});
