// Frames a teams herd receives, by event (bench/bench_connect.py --tally): every token connects at once in
// diff mode, subscribed to its team, with counts; counts each event until all have their roster and
// nothing came for two seconds.   node bench/tally_herd.mjs URL TOKENS_FILE
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("../tests/js/package.json", import.meta.url));
const { io } = require("socket.io-client");
const [url, file] = process.argv.slice(2);
const tokens = readFileSync(file, "utf8").split("\n").filter(Boolean);
const teamsOf = (token) => JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).teams || [];
const frames = {};
let states = 0;
let last = performance.now();
const sockets = tokens.map((token) => {
  const socket = io(url, { auth: { token, presence: "diff", subscribe: { teams: teamsOf(token) }, counts: true },
    transports: ["websocket"], reconnection: false, timeout: 120000 });
  socket.onAny((event) => {
    frames[event] = (frames[event] || 0) + 1;
    last = performance.now();
    if (event === "presence_state") states += 1;
  });
  return socket;
});
const timer = setInterval(() => {
  if (states >= tokens.length && performance.now() - last > 2000) {
    clearInterval(timer);
    console.log(JSON.stringify({ sockets: tokens.length, states, frames }));
    sockets.forEach((socket) => socket.close());
    setTimeout(() => process.exit(0), 200);
  }
}, 100);
