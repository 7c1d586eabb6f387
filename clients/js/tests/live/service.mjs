// What the live tests share: the service under test (PRESENCE_URL), tokens signed with PRESENCE_SECRET,
// its REST API, the control server of tests/test_js_package.py (PRESENCE_CONTROL), clients that are
// closed after each test, and waiting for a condition.
import { createHmac, randomInt } from "node:crypto";
import { createPresenceClient } from "../../dist/index.js";

export const URL = process.env.PRESENCE_URL;
const SECRET = process.env.PRESENCE_SECRET;
const CONTROL = process.env.PRESENCE_CONTROL;
/** Options of a live test: skipped, with the reason, when no service is given. */
export const live = {
  timeout: 60_000,
  skip: URL && SECRET && CONTROL ? false
    : "no service: PRESENCE_URL, PRESENCE_SECRET and PRESENCE_CONTROL are set by tests/test_js_package.py (./dev.py test)",
};
export const CHAT = "5511999999999";

const b64 = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** An HS256 token as the platform mints it. */
export function token(sub, { org, name, expIn = 600, ...claims } = {}) {
  const body = { sub: String(sub), name: name ?? `Agent ${sub}`, exp: Math.floor(Date.now() / 1000) + expIn, ...claims };
  if (org) body.org = org;
  const unsigned = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(body)}`;
  return `${unsigned}.${createHmac("sha256", SECRET).update(unsigned).digest("base64url")}`;
}

/** A tenant of one test: its own org, and agent ids nobody else uses (ids are global). */
export function tenant() {
  const base = randomInt(1, 2 ** 40) * 100;
  const org = `js-${base}`;
  return { org, id: (n) => base + n, token: (n, claims = {}) => token(base + n, { org, ...claims }) };
}

/** Call the REST API as agent `sub` of `org`; the JSON answer, or an Error with its status. */
export async function rest(method, path, sub, { org, body, url = URL, ...claims } = {}) {
  const answer = await fetch(`${url}/api/v1${path}`, {
    method, body: body === undefined ? undefined : JSON.stringify(body),
    headers: { Authorization: `Bearer ${token(sub, { org, ...claims })}`, "Content-Type": "application/json" },
  });
  const json = await answer.json();
  if (!answer.ok) throw Object.assign(new Error(`${method} ${path}: ${answer.status} ${json.error}`), { json });
  return json;
}

export const setStatus = (sub, org, status, message = "", url = URL) =>
  rest("POST", "/presence/set-status/", sub, { org, body: { status, message }, url });

/** POST to the control server: "web", "restart", "silent", "typing". */
export async function control(command, body = {}) {
  const answer = await fetch(`${CONTROL}/${command}`, { method: "POST", body: JSON.stringify(body) });
  const json = await answer.json();
  if (!answer.ok) throw new Error(`control ${command}: ${json.error}`);
  return json;
}

/** What must agree between a client's roster and the server's: the fields every change carries, and seq. */
export function comparable(agents) {
  return agents
    .map((a) => ({
      agent_id: a.agent_id, name: a.name, status: a.status, status_message: a.status_message, seq: a.seq,
      websocket_connected: a.websocket_connected, is_available: a.is_available, reason_code: a.reason_code,
    }))
    .sort((a, b) => a.agent_id - b.agent_id);
}

/** The org's roster as the server has it now. */
export async function serverRoster(sub, org, url = URL) {
  return comparable((await rest("GET", "/presence/", sub, { org, url })).agents);
}

/** Wait until the client's roster equals the server's; fail with both. */
export async function convergence(client, sub, org, { url = URL, timeout = 15_000 } = {}) {
  let server;
  let mine;
  try {
    await until(async () => {
      [server, mine] = [await serverRoster(sub, org, url), comparable(client.agents())];
      return JSON.stringify(server) === JSON.stringify(mine);
    }, { timeout, interval: 200, what: "the client's roster to equal the server's" });
  } catch (error) {
    error.message += `\nserver: ${JSON.stringify(server)}\nclient: ${JSON.stringify(mine)}`;
    throw error;
  }
  return mine;
}

/** Poll `predicate` (maybe async) until it is truthy; its value. */
export async function until(predicate, { timeout = 10_000, interval = 50, what = "a condition" } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A client of the library for test `t`, closed after it, recording what it emits and what its socket
 * sends and receives: {client, seen: {change, state, error, typing, counts}, sent: [[event, data]], got: [[event, data]]}.
 */
export function open(t, options) {
  const client = createPresenceClient({
    url: URL, ...options,
    socket: { transports: ["websocket"], reconnectionDelay: 200, reconnectionDelayMax: 1000, ...options.socket },
  });
  const seen = { change: [], state: [], error: [], typing: [], counts: [] };
  for (const event of Object.keys(seen)) client.on(event, (...args) => seen[event].push(args.length > 1 ? args : args[0]));
  const sent = [];
  const got = [];
  client.socket.onAnyOutgoing((event, data) => sent.push([event, data]));
  client.socket.onAny((event, message) => got.push([event, message?.data]));
  t.after(() => client.close());
  return { client, seen, sent, got };
}
