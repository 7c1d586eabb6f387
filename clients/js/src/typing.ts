// The agent's own typing in one chat: touch() on every keystroke sends typing_start at most once per
// `renewMs` (the server keeps the indicator TYPING_TIMEOUT_SECONDS, 30 by default, per renewal), and
// after `quietMs` without a touch it stops by itself.
import type { PresenceError } from "./errors.js";

export interface TypingOptions {
  /** Least time between two typing_start of one chat (default 5000 ms). */
  renewMs?: number;
  /** Quiet time after the last touch() before typing stops by itself (default 3000 ms). */
  quietMs?: number;
}

export interface TypingHandle {
  readonly chatId: string;
  /** True between the first touch() and the stop. */
  readonly active: boolean;
  /** The agent typed: start or renew (at most every renewMs), and push back the automatic stop. */
  touch(): void;
  /** The agent stopped (sent the message, cleared the input): typing_stop, if it was typing. */
  stop(): Promise<void>;
}

type Send = (event: "typing_start" | "typing_stop", chatId: string) => Promise<unknown>;
type Report = (error: PresenceError) => void;

export class Typing implements TypingHandle {
  active = false;
  private sentAt = -Infinity;
  private quiet: ReturnType<typeof setTimeout> | undefined;
  private readonly renewMs: number;
  private readonly quietMs: number;

  constructor(readonly chatId: string, private readonly send: Send, private readonly report: Report,
    options: TypingOptions = {}) {
    this.renewMs = options.renewMs ?? 5000;
    this.quietMs = options.quietMs ?? 3000;
  }

  touch(): void {
    const now = Date.now();
    if (!this.active || now - this.sentAt >= this.renewMs) {
      this.active = true;
      this.sentAt = now;
      this.send("typing_start", this.chatId).catch(this.report);
    }
    clearTimeout(this.quiet);
    this.quiet = setTimeout(() => void this.stop().catch(this.report), this.quietMs);
  }

  async stop(): Promise<void> {
    clearTimeout(this.quiet);
    if (!this.active) return;
    this.active = false;
    await this.send("typing_stop", this.chatId);
  }

  /** A new socket: the server may have dropped the indicator with the old one, so renew at once if typing. */
  renew(): void {
    this.sentAt = -Infinity;
    if (this.active) this.touch();
  }

  /** The client closed: forget the timer. */
  drop(): void {
    clearTimeout(this.quiet);
    this.active = false;
  }
}
