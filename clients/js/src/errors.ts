/**
 * Every failure the client reports is a LiveSessionError with the contract's `code`, and says whether
 * trying again can help (`retryable`).
 */

import type { ErrorEvent } from "./protocol.js";

/** Refusals that end a join for good: the session will not become joinable by waiting. */
export const FATAL_REFUSALS: ReadonlySet<string> = new Set(["INVALID_SESSION_ID", "SESSION_NOT_FOUND", "SESSION_ENDED"]);

export class LiveSessionError extends Error {
  override name = "LiveSessionError";
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
  ) {
    super(`${code}: ${message}`);
  }
}

/**
 * The server refused the WebSocket handshake. In a browser the handshake's status is hidden (close 1006),
 * so the code comes from `GET /sessions/{id}` (see refusal.ts): SESSION_NOT_FOUND, SESSION_ENDED and
 * INVALID_SESSION_ID are final; SESSION_FULL and CONNECT_FAILED (anything else) are retried.
 */
export class RefusedError extends LiveSessionError {
  override name = "RefusedError";
  constructor(code: string, message: string, readonly status?: number) {
    super(code, message, !FATAL_REFUSALS.has(code));
  }
}

/** Error codes of an action's answer that another try (on this or a new connection) may cure. */
const RETRYABLE_ACTION_ERRORS: ReadonlySet<string> = new Set(["RATE_LIMITED", "INTERNAL_ERROR", "CONNECTION_NOT_FOUND"]);

/** The server answered an action with an `error` frame (FORBIDDEN, SESSION_PAUSED, VALIDATION_ERROR, ...). */
export class ActionError extends LiveSessionError {
  override name = "ActionError";
  readonly field: string | undefined;
  constructor(
    readonly action: string,
    readonly frame: ErrorEvent,
  ) {
    super(frame.code, frame.message, RETRYABLE_ACTION_ERRORS.has(frame.code));
    this.field = typeof frame.field === "string" ? frame.field : undefined;
  }
}

/** An HTTP API call answered with an error (`{"error": {code, message, requestId}}`) or not at all. */
export class HttpError extends LiveSessionError {
  override name = "HttpError";
  constructor(
    code: string,
    message: string,
    readonly status: number,
    readonly requestId?: string,
  ) {
    super(code, message, status === 0 || status === 429 || status >= 500);
  }
}

/** No answer in time (an action, the handshake, or a keepalive ping). */
export class TimeoutError extends LiveSessionError {
  override name = "TimeoutError";
  constructor(what: string, ms: number) {
    super("TIMEOUT", `${what}: no answer in ${ms} ms`, true);
  }
}

/** The connection dropped after the action was sent and before its answer: whether it took effect is unknown. */
export class DisconnectedError extends LiveSessionError {
  override name = "DisconnectedError";
  constructor(action: string) {
    super("DISCONNECTED", `the connection dropped before ${action} was answered`, true);
  }
}

/** The client is closed (by `close()`, the session's end, or a final refusal). */
export class ClosedError extends LiveSessionError {
  override name = "ClosedError";
  constructor(why: string) {
    super("CLOSED", why, false);
  }
}
