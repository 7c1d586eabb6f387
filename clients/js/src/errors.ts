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

/** The error of a refused ack or connect_error envelope ({error, message, details}). */
export function refusal(answer: unknown, fallback: string): PresenceError {
  const { error = fallback, message = error, details = {} } = (answer ?? {}) as Record<string, never>;
  return new PresenceError(String(error), String(message), details);
}
