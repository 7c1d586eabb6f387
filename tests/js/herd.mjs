// A herd of v1 consoles (official socket.io-client) connecting at once (tests/test_herd.py).
// usage: node herd.mjs URL TOKENS_FILE SECONDS
// Each socket keeps the org's presence as a console does: its roster, then each announcement
// newer than what it holds. Once every socket has its roster and no frame came for a second,
// prints one JSON line: {"n", "got_state", "complete", "out_of_order", "announcements",
// "before_last_state", "held_window", "errors"}; then exits. held_window counts the announcements
// that came before the last roster within HOLD_MS of the first one: while a herd comes in, the
// server holds them (at most 2 s, presence_app/pacing.py), whatever the machine's speed.
import { readFileSync } from "node:fs";
import { io } from "socket.io-client";

const [url, file, seconds] = process.argv.slice(2);
const tokens = readFileSync(file, "utf8").split("\n").filter(Boolean);
const started = Date.now();
const errors = [];
let gotState = 0;
let announcements = 0;
let beforeLastState = 0; // announcements the herd received before its last roster arrived
let heldWindow = 0;
let firstState = null;
const HOLD_MS = 1500; // under pacing.HOLD_SECONDS, with room for the first roster's own way here
let outOfOrder = 0; // an announcement with a lower seq than one this socket got before for that agent
let lastFrame = Date.now();
const views = tokens.map(() => ({ known: new Map(), announced: new Map() }));
const sockets = tokens.map((token, i) => {
  const socket = io(url, { auth: { token }, transports: ["websocket"], reconnection: false, timeout: 60000 });
  const view = views[i];
  socket.on("presence_state", (payload) => {
    lastFrame = Date.now();
    gotState += 1;
    firstState ??= Date.now();
    for (const agent of payload.data.agents) {
      const known = view.known.get(agent.agent_id);
      if (!known || agent.seq > known.seq) view.known.set(agent.agent_id, agent);
    }
  });
  socket.on("agent_presence_changed", (payload) => {
    lastFrame = Date.now();
    announcements += 1;
    if (gotState < tokens.length) {
      beforeLastState += 1;
      if (firstState === null || Date.now() - firstState < HOLD_MS) heldWindow += 1;
    }
    const change = payload.data;
    if ((view.announced.get(change.agent_id) ?? -1) >= change.seq) outOfOrder += 1;
    view.announced.set(change.agent_id, change.seq);
    const known = view.known.get(change.agent_id);
    if (!known || change.seq > known.seq) view.known.set(change.agent_id, change);
  });
  socket.on("connect_error", (error) => errors.push(error.message));
  return socket;
});
const ids = tokens.map((token) => JSON.parse(Buffer.from(token.split(".")[1], "base64url")).sub);
const timer = setInterval(() => {
  const settled = gotState + errors.length >= tokens.length && Date.now() - lastFrame > 1000;
  if (settled || Date.now() - started > Number(seconds) * 1000) {
    clearInterval(timer);
    // complete: sockets whose view holds every agent of the herd as connected
    const complete = views.filter((view) => ids.every((id) => view.known.get(Number(id))?.websocket_connected)).length;
    process.stdout.write(JSON.stringify({ n: tokens.length, got_state: gotState, complete, out_of_order: outOfOrder,
      announcements, before_last_state: beforeLastState, held_window: heldWindow, errors: errors.slice(0, 5) }) + "\n");
    sockets.forEach((socket) => socket.close());
    setTimeout(() => process.exit(0), 200);
  }
}, 50);
