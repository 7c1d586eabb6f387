// Delivery latency for bench_sockets.py: a client on SOCKET_URL; ROUNDS set-status requests to
// TRIGGER_URL, each with a unique message; the time from sending one to its event arriving.
// Prints {"p50_ms", "p90_ms", "samples"}.
//   node bench/latency.mjs SOCKET_URL TRIGGER_URL LISTENER_TOKEN TRIGGER_TOKEN ROUNDS
import http from "node:http";
import { createRequire } from "node:module";

const require = createRequire(new URL("../tests/js/package.json", import.meta.url));
const { io } = require("socket.io-client");
const [socketUrl, triggerUrl, listenerToken, triggerToken, rounds] = process.argv.slice(2);
const waiting = new Map();
const socket = io(socketUrl, { auth: { token: listenerToken }, transports: ["websocket"], reconnection: false });
socket.on("agent_presence_changed", (msg) => waiting.get(msg.data.message)?.());
await new Promise((resolve) => socket.on("presence_state", resolve));
const target = new URL(triggerUrl);
const agent = new http.Agent({ keepAlive: true });
const samples = [];
for (let i = 0; i < Number(rounds); i += 1) {
  const marker = `latency ${i} ${Date.now()}`;
  const body = JSON.stringify({ status: i % 2 ? "busy" : "away", message: marker });
  const started = performance.now();
  const arrived = new Promise((resolve) => waiting.set(marker, resolve));
  await new Promise((resolve, reject) => {
    const request = http.request({ host: target.hostname, port: target.port, method: "POST", agent,
      path: "/api/v1/presence/set-status/", headers: { authorization: `Bearer ${triggerToken}`,
        "content-type": "application/json" } }, (res) => { res.resume(); res.on("end", resolve); });
    request.on("error", reject);
    request.end(body);
  });
  await arrived;
  samples.push(performance.now() - started);
  waiting.delete(marker);
  await new Promise((resolve) => setTimeout(resolve, 20));
}
samples.sort((a, b) => a - b);
const at = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
console.log(JSON.stringify({ p50_ms: at(0.5), p90_ms: at(0.9), samples: samples.length }));
socket.close();
process.exit(0);
