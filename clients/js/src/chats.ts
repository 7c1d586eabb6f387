// Who else types in the chats this client joined, from typing events and from the answers that say who
// types now (join_chat, sync); each difference is told as one TypingChange.
import type * as Wire from "./generated/events.js";
import type { TypingChange, TypingNow } from "./types.js";

export class Chats {
  private readonly typers = new Map<string, Map<number, TypingNow>>();
  /** Chats being joined again after a reconnect: their join_chat ack, not a sync, says who types. */
  readonly rejoining = new Set<string>();

  constructor(private readonly self: () => number | null, private readonly tell: (change: TypingChange) => void) {}

  /** The chats joined. */
  ids(): string[] {
    return Array.from(this.typers.keys());
  }

  has(chat: string): boolean {
    return this.typers.has(chat);
  }

  list(chat: string): TypingNow[] {
    return Array.from(this.typers.get(chat)?.values() ?? []);
  }

  joined(chat: string, now: TypingNow[]): void {
    if (!this.typers.has(chat)) this.typers.set(chat, new Map());
    this.now(chat, now);
  }

  left(chat: string): void {
    this.now(chat, []);
    this.typers.delete(chat);
  }

  /** A typing_start or typing_stop of a chat joined (an agent's own typing is no news to it). */
  event(data: Wire.TypingData, typing: boolean): void {
    const typers = this.typers.get(data.chat_id);
    if (!typers || data.agent_id === this.self()) return;
    const { chat_id, agent_id, from } = data;
    if (typing) typers.set(agent_id, { chat_id, agent_id, from, since: data.timestamp });
    else if (!typers.delete(agent_id)) return;
    this.tell({ chat_id, agent_id, from, typing });
  }

  /** Who types in a chat now, from an answer. */
  now(chat: string, now: TypingNow[]): void {
    const typers = this.typers.get(chat);
    if (!typers) return;
    const others = now.filter((t) => t.agent_id !== this.self());
    for (const gone of typers.values()) {
      if (!others.some((t) => t.agent_id === gone.agent_id)) this.event({ ...gone, timestamp: gone.since }, false);
    }
    for (const typer of others) {
      if (!typers.has(typer.agent_id)) this.event({ ...typer, timestamp: typer.since }, true);
      typers.set(typer.agent_id, typer);
    }
  }

  /** The connection is gone: what was typing may have stopped unheard. */
  clear(): void {
    for (const chat of this.typers.keys()) this.now(chat, []);
  }
}
