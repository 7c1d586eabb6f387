// The library's public types. Wire shapes come from src/generated/events.ts (the service's AsyncAPI
// document); the few of contract v1.2 that a service may not describe yet fall back to the contract's
// words below, and give way to the generated type as soon as the document has it.
import type * as Wire from "./generated/events.js";

export type Presence = Wire.Presence;
export type ChangeData = Wire.ChangeData;
export type TypingNow = Wire.TypingNow;
export type Status = Presence["status"];
export type ErrorCode = Wire.ErrorAck["error"];

/** The data of server event E, or Fallback while the service's document has no such event. */
export type DataOf<E extends string, Fallback> = E extends keyof Wire.ServerEvents ? Wire.ServerEvents[E] : Fallback;
/** The ack of client event E, or Fallback while the service's document has no such event. */
export type AckOf<E extends string, Fallback> = E extends keyof Wire.ClientEvents
  ? Wire.ClientEvents[E]["ack"]
  : Fallback;

/** Numbers of agents (contract v1.2, GET /presence/counts/). */
export interface CountsRow {
  online: number;
  busy: number;
  away: number;
  offline: number;
  available: number;
  connected: number;
  total: number;
}

/** presence_counts data: the org's numbers and those of the subscription's teams. */
export type Counts = DataOf<"presence_counts", {
  org: CountsRow;
  teams: Record<string, CountsRow>;
  server_time: string;
}>;

/** presence_state data; `cursor` from contract v1.2 on. */
export type StateData = Wire.StateData & { cursor?: string };

/** The sync ack: whole (`full` true or absent) or, for `sync {since}`, what changed after the cursor. */
export type SyncAck = Wire.SyncAck & { full?: boolean; cursor?: string; removed?: number[] };

/** The presence_sub ack: every agent the new subscription covers. */
export type SubscribeAck = AckOf<"presence_sub", {
  ok: true;
  agents: Presence[];
  cursor: string;
  server_time: string;
}>;

/** Whom a socket hears: members of these teams and these agents (and itself); none given = the whole org. */
export interface Subscription {
  teams?: string[];
  agentIds?: number[];
}

/** What set_status takes; `until` is an instant (ISO 8601 or a Date), `forMinutes` 1–1440. */
export interface StatusChange {
  status: Status;
  message?: string;
  reasonCode?: string | null;
  until?: string | Date | null;
  forMinutes?: number | null;
}

/** One "change" event: agents added or changed (as they are now) and agents that left the roster. */
export interface RosterChange {
  agents: Presence[];
  removed: number[];
  /** The whole roster was read again (presence_state, a full sync, a new subscription): read agents(). */
  full: boolean;
}

/** One "typing" event: someone else started or stopped typing in a chat this client joined. */
export interface TypingChange {
  chat_id: string;
  agent_id: number;
  from: string;
  typing: boolean;
}

/**
 * The connection: "connecting" until the first connect, "connected" while a socket is open,
 * "reconnecting" while it is being reopened, "closed" after close() or a refusal that no new token cures.
 */
export type ConnectionState = "connecting" | "connected" | "reconnecting" | "closed";
