// presence-app-client under load: a roster of 1,000 agents taking 100 changes a second, in v1 mode (one
// agent_presence_changed each) and diff mode (a presence_diff of 25 every 250 ms), delivered in real time
// to a real PresenceClient as socket.io-client would hand them over: each frame's JSON parsed, then its
// handler run (store, seq rules, "change" listeners). Prints the CPU this process spent, as a share of
// one core, beside the same schedule delivering nothing. Figures only, nothing asserted.
//
//   (cd clients/js && npm ci && npm run build) && node bench/client_roster.mjs [--agents 1000] [--rate 100] [--seconds 20]
import { parseArgs } from "node:util";
import { createPresenceClient, RosterStore } from "../clients/js/dist/index.js";

const { values } = parseArgs({
  options: { agents: { type: "string", default: "1000" }, rate: { type: "string", default: "100" },
    seconds: { type: "string", default: "20" } },
});
const AGENTS = Number(values.agents);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const WINDOW_MS = 250; // PRESENCE_BATCH_MS's default
const STATUSES = ["online", "busy", "away", "offline"];
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");

function presence(id) {
  return {
    agent_id: id, name: `Agent ${id}`, status: "online", status_message: "", last_heartbeat: iso(Date.now()),
    websocket_connected: true, connections: 1, status_changed_at: iso(Date.now()), is_available: true,
    minutes_in_status: 0, is_inactive: false, seq: 1, reason_code: null, status_until: null,
  };
}

/** The next `count` changes: random agents, each with its next seq, as the service sends them. */
function changes(seqs, count) {
  return Array.from({ length: count }, () => {
    const id = 1 + Math.floor(Math.random() * AGENTS);
    const status = STATUSES[Math.floor(Math.random() * 4)];
    seqs[id] += 1;
    return {
      agent_id: id, status, message: `message ${seqs[id]}`, timestamp: iso(Date.now()), name: `Agent ${id}`,
      previous_status: "online", websocket_connected: true, is_available: status === "online", reason: "manual",
      seq: seqs[id], reason_code: null,
    };
  });
}

const frame = (event, data) => JSON.stringify([event, { event, data, version: "v1" }]);

/** Frames of the whole run, made before it starts: [delay from start in ms, frame text]. */
function schedule(mode) {
  const seqs = Array(AGENTS + 1).fill(1);
  const frames = [];
  if (mode === "v1") {
    for (let i = 0; i < RATE * SECONDS; i += 1) {
      frames.push([(i * 1000) / RATE, frame("agent_presence_changed", changes(seqs, 1)[0])]);
    }
  } else {
    const perWindow = (RATE * WINDOW_MS) / 1000;
    for (let at = 0; at < SECONDS * 1000; at += WINDOW_MS) {
      // A window keeps each agent's latest change only.
      const latest = new Map(changes(seqs, perWindow).map((change) => [change.agent_id, change]));
      frames.push([at, frame("presence_diff", { changes: [...latest.values()], server_time: iso(Date.now()) })]);
    }
  }
  return frames;
}

/** A PresenceClient with no network: the roster arrives as presence_state, then the frames as if off the wire. */
function client(mode) {
  const presenceClient = createPresenceClient({
    url: "http://127.0.0.1:9", token: "unused", mode, socket: { autoConnect: false },
  });
  const deliver = (text) => {
    const [event, message] = JSON.parse(text);
    for (const listener of presenceClient.socket.listeners(event)) listener(message);
  };
  let changed = 0;
  presenceClient.on("change", (change) => (changed += change.full ? 0 : change.agents.length));
  const agents = Array.from({ length: AGENTS }, (_, i) => presence(i + 1));
  deliver(frame("presence_state", { agents, server_time: iso(Date.now()) }));
  return { deliver, changed: () => changed, client: presenceClient };
}

/** Play the frames in real time; the CPU this process used meanwhile, as a share of one core. */
async function play(frames, deliver) {
  const started = performance.now();
  const cpu = process.cpuUsage();
  let next = 0;
  await new Promise((resolve) => {
    const tick = () => {
      const now = performance.now() - started;
      while (next < frames.length && frames[next][0] <= now) deliver(frames[next++][1]);
      if (next < frames.length) setTimeout(tick, Math.max(0, frames[next][0] - now));
      else resolve();
    };
    tick();
  });
  const used = process.cpuUsage(cpu);
  const wall = performance.now() - started;
  return (used.user + used.system) / 1000 / wall;
}

/** The pure store alone, in a tight loop: microseconds per change. */
function storeCost(mode) {
  const store = new RosterStore({ coalesced: mode === "diff" });
  store.state({ agents: Array.from({ length: AGENTS }, (_, i) => presence(i + 1)) });
  const seqs = Array(AGENTS + 1).fill(1);
  const batches = Array.from({ length: 400 }, () => changes(seqs, 25));
  const started = performance.now();
  for (const batch of batches) store.changes(batch);
  return ((performance.now() - started) * 1000) / (400 * 25);
}

console.log(`presence-app-client: ${AGENTS} agents, ${RATE} changes/s, ${SECONDS} s per mode, Node ${process.version}`);
for (const mode of ["v1", "diff"]) {
  const frames = schedule(mode);
  const idle = await play(frames, () => undefined);
  const live = client(mode);
  const busy = await play(frames, live.deliver);
  live.client.close();
  console.log(`${mode.padEnd(4)} ${frames.length} frames: ${(busy * 100).toFixed(2)}% of one core ` +
    `(the same timers idle: ${(idle * 100).toFixed(2)}%, net ${((busy - idle) * 100).toFixed(2)}%), ` +
    `${live.changed()} agents changed; the store alone: ${storeCost(mode).toFixed(2)} µs a change`);
}
