// Closed-loop HTTP load for bench_requests.py: CONNECTIONS keep-alive connections send REQUESTS
// requests in all, rotating bearer tokens; prints {"requests", "seconds", "statuses"}.
//   node bench/load.mjs URL METHOD PATH BODY|- TOKENS_FILE REQUESTS CONNECTIONS
import { readFileSync } from "node:fs";
import http from "node:http";

const [url, method, path, body, file, total, connections] = process.argv.slice(2);
const tokens = readFileSync(file, "utf8").split("\n").filter(Boolean);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(connections) });
const target = new URL(url);
const payload = body === "-" ? null : body;
const statuses = {};
let sent = 0;
let done = 0;
const started = performance.now();

function one() {
  if (sent >= Number(total)) return;
  const token = tokens[sent++ % tokens.length];
  const headers = { authorization: `Bearer ${token}` };
  if (payload) headers["content-type"] = "application/json";
  const request = http.request({ host: target.hostname, port: target.port, method, path, headers, agent }, (res) => {
    res.resume();
    res.on("end", () => {
      statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1;
      done += 1;
      if (done === Number(total)) {
        console.log(JSON.stringify({ requests: done, seconds: (performance.now() - started) / 1000, statuses }));
        process.exit(0);
      }
      one();
    });
  });
  request.on("error", (error) => { console.error(error.message); process.exit(1); });
  request.end(payload ?? undefined);
}

for (let i = 0; i < Number(connections); i += 1) one();
