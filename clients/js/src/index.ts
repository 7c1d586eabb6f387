// presence-app-client: a live roster of presence_app agents for front ends.
export { createPresenceClient, PresenceClient } from "./client.js";
export type { PresenceClientEvents, PresenceClientOptions } from "./client.js";
export { PresenceError } from "./errors.js";
export { RosterStore } from "./store.js";
export type { Applied, StoreOptions, SyncAnswer, WholeRoster } from "./store.js";
export type { TokenSource } from "./token.js";
export type { TypingHandle, TypingOptions } from "./typing.js";
export type * from "./types.js";
export type * as Wire from "./generated/events.js";
