/**
 * Capped exponential backoff with "equal jitter": half of each step is fixed, half random, so many clients
 * dropped at once (a deploy, API Gateway's 2-hour cap) do not all come back in the same instant, and none
 * waits longer than `maxMs`.
 */

export interface BackoffOptions {
  /** The first step, in ms (default 500). */
  initialMs?: number;
  /** No delay is longer than this, in ms (default 30 000). */
  maxMs?: number;
  /** Each step is this many times the previous one (default 2). */
  factor?: number;
}

export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialMs ?? 500;
  const cap = options.maxMs ?? 30_000;
  const factor = options.factor ?? 2;
  const step = Math.min(cap, initial * factor ** Math.max(0, attempt));
  return step / 2 + random() * (step / 2);
}

// A session's listeners that all dropped at once (a deploy, a network blip) spread their first reconnect over the
// time API Gateway takes to admit them all (500 new connections a second per account and Region by default), at
// most 5 minutes; a renewal ahead of the 2-hour cap happens at a random point of the last fifth of its delay, so
// listeners who joined together do not all renew together. The twins of backoff.py's.
const RECONNECT_PER_SECOND = 500;
const RECONNECT_SPREAD_MAX_MS = 300_000;
const RENEW_JITTER = 0.2;

/** The ms over which the listeners of a session of `listeners` spread their first reconnect after a drop. */
export function reconnectSpreadMs(listeners: number): number {
  return Math.min(RECONNECT_SPREAD_MAX_MS, (Math.max(0, listeners) / RECONNECT_PER_SECOND) * 1000);
}

/** When to renew one connection: `renewAfterMs`, less up to a fifth of it at random. */
export function renewalDelayMs(renewAfterMs: number, random: () => number = Math.random): number {
  return renewAfterMs * (1 - RENEW_JITTER * random());
}
