// presence_app's Socket.IO events and acks (default namespace), for socket.io-client 4.x:
//
//   import { io, type Socket } from "socket.io-client";
//   import type { ServerToClientEvents, ClientToServerEvents } from "./presence-events";
//   const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, { auth: { token } });
//   const ack = await socket.emitWithAck("heartbeat", {});
//   if (ack.ok) console.log(ack.server_time); else console.error(ack.error, ack.message);
//
// The same events as GET /api/v1/asyncapi.json; tests/test_typescript.py keeps the two in step.

/** ISO 8601 UTC to the second, ending in Z: "2025-10-11T21:00:00Z". */
export type IsoTime = string;
export type Status = "online" | "offline" | "busy" | "away";
export type Reason =
  | "manual" | "timeout" | "resumed" | "connected" | "disconnected" | "supervisor" | "idle" | "active" | "expired"
  | "profile" | "deactivated";
export type ErrorCode =
  | "bad_request" | "forbidden" | "http_error" | "internal_error" | "length_required" | "limit_exceeded"
  | "method_not_allowed" | "not_found" | "payload_too_large" | "service_unavailable" | "too_many_requests"
  | "unauthorized" | "unsupported_media_type" | "validation_error";

/** The connect auth payload: io(url, {auth: {token, presence: "diff"}}). */
export interface PresenceAuth {
  token: string;
  presence?: "v1" | "diff";
  /** Hear only these teams' and agents' changes (and your own); at most 20 teams and 500 ids. */
  subscribe?: { teams?: string[]; agent_ids?: number[] };
  /** Receive presence_counts. */
  counts?: boolean;
}

/** The presence object: roster entries, presence_state entries and acks' presence. */
export interface Presence {
  agent_id: number;
  name: string;
  status: Status;
  status_message: string;
  last_heartbeat: IsoTime | null;
  websocket_connected: boolean;
  connections: number;
  status_changed_at: IsoTime;
  is_available: boolean;
  minutes_in_status: number;
  is_inactive: boolean;
  seq: number;
  reason_code: string | null;
  status_until: IsoTime | null;
  teams: string[];
  open_chats: number;
  capacity: number;
  last_assigned_at: IsoTime | null;
  available_for_assignment: boolean;
}

/** Every server event's payload: the envelope around its data. */
export interface Envelope<E extends string, D> {
  event: E;
  data: D;
  version: "v1";
}

export interface ChangeData {
  agent_id: number;
  status: Status;
  message: string;
  timestamp: IsoTime;
  name: string;
  previous_status: Status;
  websocket_connected: boolean;
  is_available: boolean;
  reason: Reason;
  seq: number;
  reason_code: string | null;
  teams: string[];
}

export interface StateData {
  agents: Presence[];
  server_time: IsoTime;
  /** Opaque: sync {since: cursor} answers only what changed after it. */
  cursor: string;
}

export interface DiffData {
  changes: ChangeData[];
  server_time: IsoTime;
  cursor: string;
}

export interface CountsOf {
  online: number;
  busy: number;
  away: number;
  offline: number;
  available: number;
  connected: number;
  total: number;
}

export interface Counts {
  org: CountsOf;
  teams: Record<string, CountsOf>;
  server_time: IsoTime;
}

export interface TypingData {
  chat_id: string;
  /** The typing agent's display name. */
  from: string;
  agent_id: number;
  timestamp: IsoTime;
}

export interface ExpiredData {
  expired_at: IsoTime;
}

export interface OverrunData {
  agent_id: number;
  name: string;
  status: Status;
  reason_code: string;
  since: IsoTime;
  max_minutes: number;
}

export interface ServerToClientEvents {
  presence_state: (message: Envelope<"presence_state", StateData>) => void;
  agent_presence_changed: (message: Envelope<"agent_presence_changed", ChangeData>) => void;
  presence_diff: (message: Envelope<"presence_diff", DiffData>) => void;
  typing_start: (message: Envelope<"typing_start", TypingData>) => void;
  typing_stop: (message: Envelope<"typing_stop", TypingData>) => void;
  session_expired: (message: Envelope<"session_expired", ExpiredData>) => void;
  agent_status_overrun: (message: Envelope<"agent_status_overrun", OverrunData>) => void;
  presence_counts: (message: Envelope<"presence_counts", Counts>) => void;
}

// Client events: what each sends, and its ack.

export interface ChatIn {
  chat_id: string;
}

export interface StatusIn {
  status: Status;
  message?: string;
  reason_code?: string | null;
  until?: IsoTime | null;
  for_minutes?: number | null;
}

export interface ActivityIn {
  idle: boolean;
}

export interface TokenIn {
  token: string;
}

/** Nothing: heartbeat and sync take {}. */
export type Empty = Record<string, never>;

export interface TypingNow {
  chat_id: string;
  agent_id: number;
  from: string;
  since: IsoTime;
}

/** The ack of any refused client event. */
export interface ErrorAck {
  ok: false;
  error: ErrorCode;
  message: string;
  details: Record<string, unknown>;
}

export interface ChatAck {
  ok: true;
  chat_id: string;
}

export interface JoinAck extends ChatAck {
  typing: TypingNow[];
}

export interface TypingStartAck {
  ok: true;
  chat_id: string;
  typing: true;
  /** false for a silent renewal */
  started: boolean;
}

export interface TypingStopAck {
  ok: true;
  chat_id: string;
  typing: false;
  /** false if it was not typing */
  stopped: boolean;
}

export interface HeartbeatAck {
  ok: true;
  server_time: IsoTime;
  presence: Presence;
}

export interface PresenceAck {
  ok: true;
  presence: Presence;
}

export interface SyncIn {
  /** A cursor of presence_state, presence_diff, presence_sub or sync: answer only what changed after it. */
  since?: string;
}

export interface SyncAck {
  ok: true;
  /** true: agents is the whole roster; false: only the agents that changed after since. */
  full: boolean;
  agents: Presence[];
  /** Not full: agents that left the roster after since (deactivated, or out of its teams). */
  removed?: number[];
  typing: TypingNow[];
  cursor: string;
  server_time: IsoTime;
}

export interface PresenceSubIn {
  /** At most 20 teams. */
  teams?: string[] | null;
  /** At most 500 agent ids. */
  agent_ids?: number[] | null;
  counts?: boolean | null;
}

export interface SubAck {
  ok: true;
  agents: Presence[];
  cursor: string;
  server_time: IsoTime;
}

export interface RefreshAck {
  ok: true;
  expires_at: IsoTime;
}

export type Answer<A> = A | ErrorAck;

export interface ClientToServerEvents {
  join_chat: (data: ChatIn, ack: (answer: Answer<JoinAck>) => void) => void;
  leave_chat: (data: ChatIn, ack: (answer: Answer<ChatAck>) => void) => void;
  typing_start: (data: ChatIn, ack: (answer: Answer<TypingStartAck>) => void) => void;
  typing_stop: (data: ChatIn, ack: (answer: Answer<TypingStopAck>) => void) => void;
  heartbeat: (data: Empty, ack: (answer: Answer<HeartbeatAck>) => void) => void;
  set_status: (data: StatusIn, ack: (answer: Answer<PresenceAck>) => void) => void;
  activity: (data: ActivityIn, ack: (answer: Answer<PresenceAck>) => void) => void;
  sync: (data: SyncIn, ack: (answer: Answer<SyncAck>) => void) => void;
  presence_sub: (data: PresenceSubIn, ack: (answer: Answer<SubAck>) => void) => void;
  refresh_token: (data: TokenIn, ack: (answer: Answer<RefreshAck>) => void) => void;
}
