// Tokens: what a JWT says of itself (its agent and its end), read without verifying (the server does),
// and when to ask for the next one.

export type TokenSource = string | (() => string | Promise<string>);

/** The `sub` and `exp` claims of a JWT, or nulls when it is not one. */
export function claims(token: string): { sub: number | null; exp: number | null } {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part.padEnd(Math.ceil(part.length / 4) * 4, "=")), (c) => c.charCodeAt(0));
    const body = JSON.parse(new TextDecoder().decode(bytes));
    const sub = Number(body.sub);
    return { sub: Number.isSafeInteger(sub) ? sub : null, exp: typeof body.exp === "number" ? body.exp : null };
  } catch {
    return { sub: null, exp: null };
  }
}

/**
 * Milliseconds from now until a token ending at `exp` (seconds, the server's clock) should be replaced:
 * a quarter of its remaining life before its end, at least 1 s and at most 60 s before it.
 */
export function refreshDelay(exp: number, serverNowMs: number): number {
  const left = exp * 1000 - serverNowMs;
  const lead = Math.min(60_000, Math.max(1_000, left / 4));
  return Math.max(0, left - lead);
}
