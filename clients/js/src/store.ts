// The roster, kept by the service's rules and nothing else: no socket, no timer, no clock.
// Like Phoenix's Presence.syncState/syncDiff: a whole roster replaces the known one, changes apply
// on top, and changes that come before the first roster wait for it. Every entry is ordered by its
// agent's `seq`, which grows by one per change: an older or equal seq is stale and ignored, a jump
// means something was missed (a gap), and the caller reads the roster again (sync).
import type { ChangeData, Presence, Subscription } from "./types.js";

/** What one call changed, and whether the roster must be read again. */
export interface Applied {
  agents: Presence[];
  removed: number[];
  full: boolean;
  gap: boolean;
}

/** A whole roster: presence_state, a full sync answer, a presence_sub ack. */
export interface WholeRoster {
  agents: Presence[];
  cursor?: string | null;
}

/** A sync answer: whole unless `full` is false (then only what changed after the cursor, and who left). */
export interface SyncAnswer extends WholeRoster {
  full?: boolean;
  removed?: number[];
}

export interface StoreOptions {
  /** Diff mode: a batch keeps only each agent's latest change, so a skipped seq is expected, not a gap. */
  coalesced?: boolean;
  /** This client's own agent, always covered by its subscription. */
  self?: number | null;
}

type Change = Omit<ChangeData, "reason"> & { reason: string; teams?: string[] };
// Fields of a change that are not presence fields of the same name.
const NOT_PRESENCE = new Set(["agent_id", "message", "previous_status", "reason", "timestamp"]);

export class RosterStore {
  readonly roster = new Map<number, Presence>();
  cursor: string | null = null;
  ready = false;
  coalesced: boolean;
  self: number | null;
  private pending: Change[] = [];
  private interest: { teams: Set<string>; agents: Set<number> } | null = null;

  constructor(options: StoreOptions = {}) {
    this.coalesced = options.coalesced ?? false;
    this.self = options.self ?? null;
  }

  /** A whole roster replaces the known one; an entry we know at a newer seq is kept; waiting changes follow. */
  state(whole: WholeRoster): Applied {
    const result = applied(true);
    const next = new Map<number, Presence>();
    for (const agent of whole.agents) {
      const known = this.roster.get(agent.agent_id);
      next.set(agent.agent_id, known && known.seq > agent.seq ? known : agent);
      if (!known || known.seq < agent.seq) result.agents.push(agent);
    }
    for (const id of this.roster.keys()) if (!next.has(id)) result.removed.push(id);
    this.roster.clear();
    for (const [id, agent] of next) this.roster.set(id, agent);
    this.cursor = whole.cursor ?? null;
    this.ready = true;
    const waiting = this.pending;
    this.pending = [];
    return merge(result, this.changes(waiting));
  }

  /** agent_presence_changed data, or the changes of one presence_diff, applied by seq. */
  changes(changes: Change[]): Applied {
    const result = applied(false);
    if (!this.ready) {
      this.pending.push(...changes);
      return result;
    }
    for (const change of changes) this.change(change, result);
    return result;
  }

  /** A sync ack: a whole roster, or (full: false) the agents that changed after the cursor and who left. */
  sync(answer: SyncAnswer): Applied {
    if (answer.full !== false) return this.state(answer);
    const result = applied(false);
    for (const agent of answer.agents) this.upsert(agent, result);
    for (const id of answer.removed ?? []) this.remove(id, result);
    if (answer.cursor) this.cursor = answer.cursor;
    return result;
  }

  /** One agent's presence from an ack (set_status, heartbeat, activity): newer replaces, equal refreshes quietly. */
  presence(agent: Presence): Applied {
    const result = applied(false);
    if (this.ready) this.upsert(agent, result);
    return result;
  }

  /** The subscription the roster follows: a change that says its agent left it removes the agent. */
  subscribe(subscription: Subscription | null): void {
    const teams = subscription?.teams ?? [];
    const agents = subscription?.agentIds ?? [];
    this.interest = teams.length || agents.length ? { teams: new Set(teams), agents: new Set(agents) } : null;
  }

  private change(change: Change, result: Applied): void {
    const known = this.roster.get(change.agent_id);
    if (known && change.seq <= known.seq) return;
    if (change.reason === "deactivated" || !this.covers(change)) {
      this.remove(change.agent_id, result);
      return;
    }
    // One event per change (v1): a seq past the next one means some were lost (a new agent's first is 1).
    if (!this.coalesced && change.seq > (known ? known.seq : 0) + 1) result.gap = true;
    const next = merged(known, change);
    this.roster.set(next.agent_id, next);
    result.agents.push(next);
  }

  private covers(change: Change): boolean {
    const interest = this.interest;
    if (!interest || !Array.isArray(change.teams) || change.agent_id === this.self) return true;
    return interest.agents.has(change.agent_id) || change.teams.some((team) => interest.teams.has(team));
  }

  private upsert(agent: Presence, result: Applied): void {
    const known = this.roster.get(agent.agent_id);
    if (known && known.seq > agent.seq) return;
    this.roster.set(agent.agent_id, agent);
    if (!known || known.seq < agent.seq) result.agents.push(agent);
  }

  private remove(id: number, result: Applied): void {
    if (this.roster.delete(id)) result.removed.push(id);
  }
}

function applied(full: boolean): Applied {
  return { agents: [], removed: [], full, gap: false };
}

function merge(into: Applied, more: Applied): Applied {
  into.agents.push(...more.agents);
  into.removed.push(...more.removed);
  into.gap ||= more.gap;
  return into;
}

/** The presence after a change: what the change says, the rest as known (a new status restarts its clock). */
function merged(known: Presence | undefined, change: Change): Presence {
  // A first-seen agent: what a change does not say starts empty.
  const next: Record<string, unknown> = known ? { ...known } : {
    agent_id: change.agent_id, last_heartbeat: null, connections: 0, is_inactive: false, status_until: null,
  };
  for (const [key, value] of Object.entries(change)) if (!NOT_PRESENCE.has(key)) next[key] = value;
  next.status_message = change.message;
  if (!known || change.status !== known.status || change.status !== change.previous_status) {
    next.status_changed_at = change.timestamp;
    next.minutes_in_status = 0;
  }
  if (change.reason === "expired") next.status_until = null;
  if (!change.websocket_connected) next.connections = 0;
  else if (!next.connections) next.connections = 1;
  if (change.websocket_connected) next.is_inactive = false;
  return next as unknown as Presence;
}
