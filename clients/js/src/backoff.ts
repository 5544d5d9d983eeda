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
