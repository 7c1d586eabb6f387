// A typed client of presence_app: socket.io-client with clients/presence-events.d.ts. tests/test_typescript.py
// type-checks it (tsc --noEmit; each @ts-expect-error must meet an error, so the types are not loose), then
// compiles and runs it against a real server: node typed_client.js <url> <token>. It prints one JSON line: a
// summary read through the types, and every event and ack as it came off the wire (checked against AsyncAPI).
import { io, type Socket } from "socket.io-client";
import type {
  Answer, ChangeData, ClientToServerEvents, Presence, ServerToClientEvents, StateData, TypingData,
} from "../../clients/presence-events";

const [url, token] = process.argv.slice(2);
const CHAT = "5511999999999";
const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, {
  auth: { token }, transports: ["websocket"], reconnection: false,
});
const events: [string, unknown][] = [];
const acks: [string, unknown][] = [];
socket.onAny((event: string, payload: unknown) => events.push([event, payload]));

function record<A>(event: keyof ClientToServerEvents, answer: A): A {
  acks.push([event, answer]);
  return answer;
}

function ok<A extends { ok: true }>(answer: Answer<A>): A {
  if (!answer.ok) throw new Error(`${answer.error}: ${answer.message}`);
  return answer;
}

function next<E extends keyof ServerToClientEvents>(event: E): Promise<Parameters<ServerToClientEvents[E]>[0]> {
  return new Promise((resolve) => {
    const listener = ((message: Parameters<ServerToClientEvents[E]>[0]) => resolve(message)) as never;
    socket.once(event, listener);
  });
}

async function main(): Promise<void> {
  const state = await next("presence_state");
  const roster: StateData = state.data;
  const me: Presence | undefined = roster.agents.find((agent) => agent.websocket_connected);
  const call = socket.timeout(10_000);

  const joined = ok(record("join_chat", await call.emitWithAck("join_chat", { chat_id: CHAT })));
  const typing = next("typing_start");
  const started = ok(record("typing_start", await call.emitWithAck("typing_start", { chat_id: CHAT })));
  const seen: TypingData = (await typing).data;
  const stopped = ok(record("typing_stop", await call.emitWithAck("typing_stop", { chat_id: CHAT })));
  const beat = ok(record("heartbeat", await call.emitWithAck("heartbeat", {})));
  const changed = next("agent_presence_changed");
  const set = ok(record("set_status", await call.emitWithAck("set_status", { status: "busy", message: "typed" })));
  const change: ChangeData = (await changed).data;
  const active = ok(record("activity", await call.emitWithAck("activity", { idle: false })));
  const synced = ok(record("sync", await call.emitWithAck("sync", {})));
  const since = ok(record("sync", await call.emitWithAck("sync", { since: synced.cursor })));
  const subscribed = ok(record("presence_sub", await call.emitWithAck("presence_sub", { teams: ["billing"] })));
  const refreshed = ok(record("refresh_token", await call.emitWithAck("refresh_token", { token })));
  const left = ok(record("leave_chat", await call.emitWithAck("leave_chat", { chat_id: CHAT })));
  const tooLong = { status: "busy", message: "x".repeat(141) } as const;
  const refused = record("set_status", await call.emitWithAck("set_status", tooLong));
  const refusal = refused.ok ? null : refused.error;

  // @ts-expect-error a status outside the four is no StatusIn
  socket.emit("set_status", { status: "asleep" }, () => {});
  // @ts-expect-error join_chat needs a chat_id
  socket.emit("join_chat", {}, () => {});
  // @ts-expect-error an event the service does not have
  socket.emit("shout", {}, () => {});
  // @ts-expect-error heartbeat acks a server time, not a number
  socket.emit("heartbeat", {}, (answer) => answer.ok && answer.server_time.toFixed());
  // @ts-expect-error typing data has no status
  socket.on("typing_start", (message) => message.data.status);

  const summary = {
    me: me?.agent_id ?? null, joined: joined.chat_id, started: started.started, typing_from: seen.from,
    stopped: stopped.stopped, beat: beat.presence.agent_id, set: set.presence.status, change: change.status,
    active: active.presence.status, synced: synced.agents.length, refreshed: refreshed.expires_at.endsWith("Z"),
    incremental: since.full === false, subscribed: subscribed.agents.length,
    left: left.chat_id, refusal,
  };
  process.stdout.write(JSON.stringify({ summary, events, acks }) + "\n");
  socket.disconnect();
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
