// A front end's use of presence-app-client, type-checked by `npm run typecheck` (tsc --noEmit) against the
// built package, imported by its name as a consumer does. Each @ts-expect-error must meet an error, so the
// types are not loose; tsc fails if one does not.
import {
  createPresenceClient, PresenceError, type ConnectionState, type Counts, type Presence, type RosterChange,
  type TypingChange, type TypingHandle, type Wire,
} from "presence-app-client";
import type { Socket } from "socket.io-client";

const client = createPresenceClient({
  url: "http://127.0.0.1:8001",
  token: async () => "a JWT from the platform",
  mode: "diff",
  subscribe: { teams: ["billing"], agentIds: [5] },
  counts: true,
  socket: { transports: ["websocket"] },
});
createPresenceClient({ token: "a JWT", mode: "v1" });
// @ts-expect-error the mode is "diff" or "v1"
createPresenceClient({ token: "a JWT", mode: "batched" });
// @ts-expect-error a token is a string or a function giving one
createPresenceClient({ token: 42 });

const roster: Presence[] = await client.ready;
const names: string[] = roster.map((agent) => agent.name);
const available: boolean | undefined = client.agent(5)?.is_available;
const everyone: Presence[] = client.agents();

const stop = client.on("change", (change: RosterChange) => {
  const statuses: Array<"online" | "offline" | "busy" | "away"> = change.agents.map((agent) => agent.status);
  const removed: number[] = change.removed;
  if (change.full) console.log(statuses, removed);
});
client.on("state", (state: ConnectionState, reason: string) => console.log(state, reason));
client.on("error", (error: PresenceError) => console.log(error.code, error.message, error.details));
client.on("typing", (typing: TypingChange) => console.log(typing.chat_id, typing.from, typing.typing));
client.on("counts", (counts: Counts) => console.log(counts.org.available, counts.teams.billing?.online));
client.on("overrun", (overrun: Wire.OverrunData) => console.log(overrun.max_minutes));
// @ts-expect-error no such event
client.on("presence", () => undefined);
// @ts-expect-error a change listener gets a RosterChange, not a presence
client.on("change", (agent: Presence) => agent.seq);
stop();

const mine: Presence = await client.setStatus({ status: "busy", message: "Lunch", reasonCode: "lunch", forMinutes: 30 });
await client.setStatus({ status: "away", until: new Date(Date.now() + 600_000) });
await client.setStatus({ status: "online", until: "2025-10-11T21:00:00Z", reasonCode: null });
// @ts-expect-error a status is one of the four words
await client.setStatus({ status: "asleep" });
// @ts-expect-error set_status's snake_case belongs to the wire, not to the library
await client.setStatus({ status: "busy", reason_code: "lunch" });
const beat: Presence = await client.heartbeat();
await client.activity(true);
await client.subscribe({ teams: ["billing"], counts: false });
const typers: Wire.TypingNow[] = await client.joinChat("5511999999999");
const handle: TypingHandle = client.typing("5511999999999");
handle.touch();
await handle.stop();
await client.leaveChat("5511999999999");
const counts: Counts | null = client.counts();
const connection: ConnectionState = client.connection;
const me: number | null = client.agentId;
const now: number = client.serverNow();

try {
  await client.heartbeat();
} catch (error) {
  if (error instanceof PresenceError && error.code === "too_many_requests") console.log("slow down");
}

// The raw socket, typed by the generated events, for anything the library does not wrap.
const socket: Socket<Wire.ServerToClientEvents, Wire.ClientToServerEvents> = client.socket;
socket.on("presence_state", (message) => {
  const agents: Wire.Presence[] = message.data.agents;
  const version: "v1" = message.version;
  console.log(agents, version);
});
// @ts-expect-error presence_diff's data has changes, not agents
socket.on("presence_diff", (message) => message.data.agents);
const ack: Wire.Answer<Wire.HeartbeatAck> = await socket.emitWithAck("heartbeat", {});
if (ack.ok) console.log(ack.presence.seq);
else {
  const code: Wire.ErrorAck["error"] = ack.error;
  console.log(code);
}
// @ts-expect-error join_chat takes a chat_id
socket.emit("join_chat", { chat: "5511999999999" }, () => undefined);

client.close();
console.log(names, available, everyone, mine, beat, typers, counts, connection, me, now);
