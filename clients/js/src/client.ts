// The socket layer: one socket.io-client socket, its events fed to the roster store, its acks turned
// into promises, and the connection kept alive across reconnects, restarts and token ends.
import { io, type ManagerOptions, type Socket, type SocketOptions } from "socket.io-client";
import { Chats } from "./chats.js";
import { Emitter } from "./emitter.js";
import { PresenceError, refusal } from "./errors.js";
import type * as Wire from "./generated/events.js";
import { type Applied, RosterStore } from "./store.js";
import { claims, fetchToken, refreshDelay, type TokenSource } from "./token.js";
import type {
  ConnectionState, Counts, Presence, RosterChange, StateData, StatusChange, SubscribeAck, Subscription, SyncAck,
  TypingChange, TypingNow,
} from "./types.js";
import { Typing, type TypingHandle, type TypingOptions } from "./typing.js";

export interface PresenceClientOptions {
  /** The service's address (default: the page's origin). */
  url?: string;
  /** The platform's JWT, or a (possibly async) function returning a fresh one: called at every (re)connect and before `exp`. */
  token: TokenSource;
  /** "diff" (default): changes in batches; "v1": one event per change. */
  mode?: "diff" | "v1";
  /** Hear only these teams and agents (contract v1.2); none = the whole org. */
  subscribe?: Subscription;
  /** Receive presence_counts (contract v1.2). */
  counts?: boolean;
  /** How long a client event waits for its ack (default 10000 ms). */
  ackTimeoutMs?: number;
  /** How long after a connect presence_state may take before the client asks with sync (default 10000 ms). */
  stateTimeoutMs?: number;
  typing?: TypingOptions;
  /** Passed to socket.io-client's io() (transports, path, reconnectionDelayMax, ...). */
  socket?: Partial<ManagerOptions & SocketOptions>;
}

export interface PresenceClientEvents {
  change: (change: RosterChange) => void;
  counts: (counts: Counts) => void;
  typing: (typing: TypingChange) => void;
  state: (state: ConnectionState, reason: string) => void;
  error: (error: PresenceError) => void;
  overrun: (overrun: Wire.OverrunData) => void;
}

type Timer = ReturnType<typeof setTimeout>;
// Refusals a later attempt may not meet (a fresh token, a server back on its feet, a socket closed elsewhere).
const PASSING = new Set(["unauthorized", "service_unavailable", "too_many_requests", "limit_exceeded", "internal_error"]);
const MAX_TOKEN_REFUSALS = 3;

export class PresenceClient extends Emitter<PresenceClientEvents> {
  /** Resolved with the roster once the first presence_state (or full sync) is in; rejected if the client closes first. */
  readonly ready: Promise<Presence[]>;
  /** The socket.io-client socket, for events this library does not wrap. */
  readonly socket: Socket<Wire.ServerToClientEvents, Wire.ClientToServerEvents>;
  private readonly store: RosterStore;
  private readonly chats = new Chats(() => this.store.self, (change) => this.emit("typing", change));
  private readonly handles = new Map<string, Typing>();
  private done: [(agents: Presence[]) => void, (error: PresenceError) => void] | null = null;
  private interest: Subscription | null;
  private wantCounts: boolean;
  private latestCounts: Counts | null = null;
  private token: string | null = null;
  private state: ConnectionState = "connecting";
  private closed = false;
  private expired = false;
  private rosterIn = false;
  private connects = 0;
  private attempts = 0;
  private refusals = 0;
  private offsetMs = 0;
  private syncing: Promise<void> | null = null;
  private syncAgain = false;
  private timers: { refresh?: Timer; presence?: Timer; retry?: Timer } = {};

  constructor(private readonly options: PresenceClientOptions) {
    super();
    this.store = new RosterStore({ coalesced: (options.mode ?? "diff") === "diff" });
    this.interest = options.subscribe ?? null;
    this.store.subscribe(this.interest);
    this.wantCounts = options.counts ?? false;
    this.ready = new Promise((resolve, reject) => (this.done = [resolve, reject]));
    this.ready.catch(() => undefined); // a caller who never awaits it must not see an unhandled rejection
    const settings = { forceNew: true, ...options.socket, auth: (cb: (data: object) => void) => this.authenticate(cb) };
    this.socket = options.url === undefined ? io(settings) : io(options.url, settings);
    this.listen();
  }

  /** Every agent of the roster, in no particular order. */
  agents(): Presence[] {
    return Array.from(this.store.roster.values());
  }

  agent(id: number): Presence | undefined {
    return this.store.roster.get(id);
  }

  /** The latest presence_counts, or null before the first. */
  counts(): Counts | null {
    return this.latestCounts;
  }

  /** Who else is typing in a chat this client joined. */
  typers(chatId: string): TypingNow[] {
    return this.chats.list(chatId);
  }

  /** This client's agent (the token's `sub`), once its token is known. */
  get agentId(): number | null {
    return this.store.self;
  }

  get connection(): ConnectionState {
    return this.state;
  }

  /** The service's clock, in milliseconds since the epoch, as last heard. */
  serverNow(): number {
    return Date.now() + this.offsetMs;
  }

  async setStatus(change: StatusChange): Promise<Presence> {
    const until = change.until instanceof Date ? change.until.toISOString() : change.until;
    // Undefined fields are left out of the JSON, as the service wants.
    const body = {
      status: change.status, message: change.message, reason_code: change.reasonCode, until,
      for_minutes: change.forMinutes,
    };
    return this.mine(await this.request<Wire.PresenceAck>("set_status", body));
  }

  async heartbeat(): Promise<Presence> {
    const ack = await this.request<Wire.HeartbeatAck>("heartbeat", {});
    this.clock(ack.server_time);
    return this.mine(ack);
  }

  /** The agent went idle (true) or is active again (false): auto-away. */
  async activity(idle: boolean): Promise<Presence> {
    return this.mine(await this.request<Wire.PresenceAck>("activity", { idle }));
  }

  /** Replace the subscription (contract v1.2): the roster becomes the agents it covers. */
  async subscribe(subscription: Subscription & { counts?: boolean }): Promise<Presence[]> {
    const body = { ...wire(subscription), counts: subscription.counts };
    const ack = await this.request<SubscribeAck>("presence_sub", body);
    const covers = Boolean(subscription.teams?.length || subscription.agentIds?.length);
    this.interest = covers ? { teams: subscription.teams, agentIds: subscription.agentIds } : null;
    this.store.subscribe(this.interest);
    if (subscription.counts !== undefined) this.wantCounts = subscription.counts;
    this.clock(ack.server_time);
    this.apply(this.store.state(ack));
    return this.agents();
  }

  /** Join a chat's room to see typing there; resolves with who types there now. */
  async joinChat(chatId: string): Promise<TypingNow[]> {
    const ack = await this.request<Wire.JoinAck>("join_chat", { chat_id: chatId });
    this.chats.joined(chatId, ack.typing);
    return this.typers(chatId);
  }

  async leaveChat(chatId: string): Promise<void> {
    this.chats.left(chatId);
    await this.request("leave_chat", { chat_id: chatId });
  }

  /** The agent's own typing in a chat (one handle per chat). */
  typing(chatId: string): TypingHandle {
    let handle = this.handles.get(chatId);
    if (!handle) {
      const send = (event: string, id: string) => this.request(event, { chat_id: id });
      handle = new Typing(chatId, send, (error) => this.report(error), this.options.typing);
      this.handles.set(chatId, handle);
    }
    return handle;
  }

  /** Read the roster again (with the cursor when there is one); the client does this itself after gaps. */
  sync(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    const since = this.store.cursor;
    this.syncing = this.request<SyncAck>("sync", since ? { since } : {})
      .then((ack) => {
        this.rostered();
        this.clock(ack.server_time);
        this.apply(this.store.sync(ack));
        for (const chat of this.chats.ids()) {
          if (!this.chats.rejoining.has(chat)) this.chats.now(chat, ack.typing.filter((t) => t.chat_id === chat));
        }
        this.settle();
      }, (error: PresenceError) => {
        if (since && error.code === "validation_error") {
          this.store.cursor = null; // a service that does not know the cursor: read everything
          this.syncAgain = true;
        }
        throw error;
      })
      .finally(() => {
        this.syncing = null;
        if (this.syncAgain && !this.closed) {
          this.syncAgain = false;
          this.resync();
        }
      });
    return this.syncing;
  }

  /** Close the socket for good. */
  close(): void {
    this.shutdown(new PresenceError("closed", "closed"));
  }

  // ---- the socket ---------------------------------------------------------------------------

  private listen(): void {
    const socket = this.socket as Socket;
    // Each server event's envelope, opened: its data.
    const on = <D>(event: string, handle: (data: D) => void) =>
      socket.on(event, (message: Wire.Envelope<string, D>) => handle(message.data));
    socket.on("connect", () => this.connected());
    socket.on("disconnect", (reason: string) => this.disconnected(reason));
    socket.on("connect_error", (error: Error & { data?: unknown }) => this.refused(error));
    on<StateData>("presence_state", (data) => {
      this.rostered();
      this.clock(data.server_time);
      this.apply(this.store.sync(data));
      this.settle();
    });
    on<Wire.ChangeData>("agent_presence_changed", (data) => this.apply(this.store.changes([data])));
    on<Wire.DiffData>("presence_diff", (data) => this.apply(this.store.changes(data.changes)));
    on<Counts>("presence_counts", (data) => this.emit("counts", (this.latestCounts = data)));
    on<Wire.TypingData>("typing_start", (data) => this.chats.event(data, true));
    on<Wire.TypingData>("typing_stop", (data) => this.chats.event(data, false));
    on<Wire.OverrunData>("agent_status_overrun", (data) => this.emit("overrun", data));
    // The server closes the socket next; disconnected() reconnects with a fresh token.
    on("session_expired", () => (this.expired = true));
  }

  private authenticate(cb: (data: object) => void): void {
    fetchToken(this.options.token).then((token) => {
      this.token = token;
      this.store.self ??= claims(token).sub;
      // Back after a cut: with the cursor of the last roster, presence_state holds only what changed after it.
      const since = this.connects > 0 ? this.store.cursor ?? undefined : undefined;
      cb({
        token, presence: (this.options.mode ?? "diff") === "diff" ? "diff" : undefined,
        subscribe: this.interest ? wire(this.interest) : undefined, counts: this.wantCounts || undefined, since,
      });
    }, (error: PresenceError) => {
      this.report(error);
      this.socket.disconnect(); // no token, no connection: give this attempt up and try again later
      this.retry();
    });
  }

  private connected(): void {
    const again = this.connects++ > 0;
    this.attempts = 0;
    this.refusals = 0;
    this.expired = false;
    this.setState("connected", again ? "reconnected" : "connected");
    this.armRefresh();
    // The server sends presence_state on every connect (socket.io-client may hand it over before "connect");
    // should it not come, ask for the roster.
    if (!this.rosterIn) this.timers.presence = setTimeout(() => this.resync(), this.options.stateTimeoutMs ?? 10_000);
    if (!again) return;
    for (const chat of this.chats.ids()) this.rejoin(chat);
    for (const handle of this.handles.values()) handle.renew();
  }

  private disconnected(reason: string): void {
    this.rosterIn = false;
    clearTimeout(this.timers.refresh);
    clearTimeout(this.timers.presence);
    this.chats.clear(); // typing missed while away must not stick
    if (this.closed) return;
    if (reason !== "io server disconnect") {
      this.setState("reconnecting", reason); // socket.io-client reconnects by itself
    } else if (this.expired && typeof this.options.token === "string") {
      this.shutdown(new PresenceError("session_expired", "token expired")); // a string cannot be renewed
    } else {
      // The server closed the socket (its token ended, it restarts): socket.io-client does not retry that.
      this.setState("reconnecting", reason);
      this.retry();
    }
  }

  private refused(error: Error & { data?: unknown }): void {
    if (this.closed) return;
    const reason = refusal(error.data, error.message);
    if (!this.socket.active) {
      // Refused by the server: socket.io-client gives up, so the client decides.
      const renewable = typeof this.options.token === "function" && ++this.refusals <= MAX_TOKEN_REFUSALS;
      if (!PASSING.has(reason.code) || (reason.code === "unauthorized" && !renewable)) return this.shutdown(reason);
      this.report(reason);
      this.retry();
    }
    this.setState(this.connects ? "reconnecting" : "connecting", reason.code);
  }

  private retry(): void {
    const delay = Math.min(30_000, 500 * 2 ** this.attempts++) * (0.5 + Math.random() / 2);
    clearTimeout(this.timers.retry);
    this.timers.retry = setTimeout(() => {
      if (!this.closed && !this.socket.connected) this.socket.connect();
    }, delay);
  }

  private shutdown(error: PresenceError): void {
    if (this.closed) return;
    this.closed = true;
    Object.values(this.timers).forEach(clearTimeout);
    for (const handle of this.handles.values()) handle.drop();
    this.socket.disconnect();
    if (error.code !== "closed") this.report(error);
    this.setState("closed", error.code);
    this.done?.[1](error);
    this.done = null;
  }

  // ---- tokens -------------------------------------------------------------------------------

  private armRefresh(): void {
    clearTimeout(this.timers.refresh);
    const exp = this.token && typeof this.options.token === "function" ? claims(this.token).exp : null;
    if (exp !== null) this.timers.refresh = setTimeout(() => void this.refresh(exp), refreshDelay(exp, this.serverNow()));
  }

  private async refresh(exp: number): Promise<void> {
    try {
      const token = await fetchToken(this.options.token);
      await this.request("refresh_token", { token });
      this.token = token;
      this.armRefresh();
    } catch (error) {
      this.report(error as PresenceError);
      const left = exp * 1000 - this.serverNow();
      // Try again while the session lasts; at its end the server closes the socket and a reconnect follows.
      if (left > 2000 && this.socket.connected) this.timers.refresh = setTimeout(() => void this.refresh(exp), left / 2);
    }
  }

  // ---- roster and typing --------------------------------------------------------------------

  private apply(applied: Applied): void {
    if (applied.agents.length || applied.removed.length || applied.full) this.emit("change", applied);
    if (applied.gap) this.resync();
  }

  /** A whole roster came for this connection. */
  private rostered(): void {
    this.rosterIn = true;
    clearTimeout(this.timers.presence);
  }

  private resync(): void {
    this.sync().catch((error: PresenceError) => this.report(error));
  }

  private settle(): void {
    if (!this.store.ready || !this.done) return;
    this.done[0](this.agents());
    this.done = null;
  }

  private mine(ack: { presence: Presence }): Presence {
    this.apply(this.store.presence(ack.presence));
    return ack.presence;
  }

  private rejoin(chat: string): void {
    this.chats.rejoining.add(chat);
    this.request<Wire.JoinAck>("join_chat", { chat_id: chat })
      .then((ack) => this.chats.now(chat, ack.typing), (error) => this.report(error))
      .finally(() => this.chats.rejoining.delete(chat));
  }

  // ---- plumbing -----------------------------------------------------------------------------

  /** A client event as a promise of its ack; a refusal rejects with the envelope's code. */
  request<A = unknown>(event: string, data: object): Promise<A> {
    if (this.closed) return Promise.reject(new PresenceError("closed", "closed"));
    const wait = this.options.ackTimeoutMs ?? 10_000;
    return (this.socket as Socket).timeout(wait).emitWithAck(event, data).then((ack: { ok?: unknown }) => {
      if (!ack || ack.ok !== true) throw refusal(ack, "bad_ack");
      return ack as A;
    }, () => {
      throw new PresenceError("timeout", `no ack of ${event}`);
    });
  }

  private clock(serverTime: string): void {
    const at = Date.parse(serverTime);
    if (!Number.isNaN(at)) this.offsetMs = at + 500 - Date.now(); // server_time is whole seconds: aim at the middle
  }

  private setState(state: ConnectionState, reason: string): void {
    const changed = state !== this.state;
    this.state = state;
    if (changed) this.emit("state", state, reason);
  }

  private report(error: PresenceError): void {
    this.emit("error", error instanceof PresenceError ? error : new PresenceError("internal", String(error)));
  }
}

/** A subscription as the wire names it. */
function wire(subscription: Subscription) {
  return { teams: subscription.teams, agent_ids: subscription.agentIds };
}

/** Connect to the service and keep a live roster. */
export function createPresenceClient(options: PresenceClientOptions): PresenceClient {
  return new PresenceClient(options);
}
