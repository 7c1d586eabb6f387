// Many sockets whose tokens share one exp (tests/test_faults_edges.py): when are they closed?
// usage: node expiry.mjs URL TOKENS_FILE SECONDS
// Prints one JSON line once every socket is connected (or the time is up), then one more once every
// socket is closed (or the time is up): {"closed", "session_expired", "first_close", "last_close"} (epoch ms).
import { readFileSync } from "node:fs";
import { io } from "socket.io-client";

const [url, file, seconds] = process.argv.slice(2);
const tokens = readFileSync(file, "utf8").split("\n").filter(Boolean);
const started = Date.now();
let connected = 0;
let closed = 0;
let told = 0;
let firstClose = null;
let lastClose = null;
const errors = [];
tokens.forEach((token) => {
  const socket = io(url, { auth: { token, presence: "diff" }, transports: ["websocket"], reconnection: false, timeout: 60000 });
  socket.on("connect", () => (connected += 1));
  socket.on("session_expired", () => (told += 1));
  socket.on("disconnect", () => {
    closed += 1;
    lastClose = Date.now();
    firstClose = firstClose ?? lastClose;
  });
  socket.on("connect_error", (error) => errors.push(error.message));
});
let phase = 0;
const timer = setInterval(() => {
  const late = Date.now() - started > Number(seconds) * 1000;
  if (phase === 0 && (connected + errors.length >= tokens.length || late)) {
    phase = 1;
    process.stdout.write(JSON.stringify({ n: tokens.length, connected, errors: errors.slice(0, 5) }) + "\n");
  }
  if (phase === 1 && (closed >= connected || late)) {
    clearInterval(timer);
    process.stdout.write(JSON.stringify({ closed, session_expired: told, first_close: firstClose,
      last_close: lastClose }) + "\n");
    setTimeout(() => process.exit(0), 100);
  }
}, 20);
