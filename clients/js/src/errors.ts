/** A refusal or failure: `code` is the envelope's `error` ("too_many_requests", "unauthorized", ...), or the
 * library's own "timeout" (no ack in time), "closed" (the client was closed) and "token" (the token function failed). */
export class PresenceError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}) {
    super(message || code);
    this.name = "PresenceError";
    this.code = code;
    this.details = details;
  }
}

interface Refusal {
  error?: unknown;
  message?: unknown;
  details?: unknown;
}

/** The error of a refused ack or connect_error envelope. */
export function refusal(answer: unknown, fallback: string): PresenceError {
  const envelope = (answer && typeof answer === "object" ? answer : {}) as Refusal;
  const code = typeof envelope.error === "string" ? envelope.error : fallback;
  const message = typeof envelope.message === "string" ? envelope.message : code;
  const details = envelope.details && typeof envelope.details === "object" ? envelope.details : {};
  return new PresenceError(code, message, details as Record<string, unknown>);
}
