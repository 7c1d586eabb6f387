// Tokens: getting one, what a JWT says of itself (its agent and its end), read without verifying (the
// server does), and when to ask for the next one.
import { PresenceError } from "./errors.js";

export type TokenSource = string | (() => string | Promise<string>);

/** The token itself, or what the function gives; a failure is a PresenceError with code "token". */
export async function fetchToken(source: TokenSource): Promise<string> {
  let token: unknown;
  try {
    token = typeof source === "function" ? await source() : source;
  } catch (error) {
    throw new PresenceError("token", String((error as Error)?.message ?? error));
  }
  if (typeof token !== "string" || !token) throw new PresenceError("token", "no token");
  return token;
}

/** The `sub` and `exp` claims of a JWT, or nulls when it is not one. */
export function claims(token: string): { sub: number | null; exp: number | null } {
  try {
    // Latin-1 of the UTF-8 payload: the claims read here are numbers.
    const body = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
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
