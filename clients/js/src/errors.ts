/**
 * Every failure the client reports is a LiveSessionError with the contract's `code`, and says whether
 * trying again can help (`retryable`).
 */

import type { ErrorEvent } from "./protocol.js";

/** Refusals that end a join for good: the session will not become joinable by waiting. */
export const FATAL_REFUSALS: ReadonlySet<string> = new Set([
  "INVALID_SESSION_ID",
  "SESSION_NOT_FOUND",
  "SESSION_ENDED",
  "INVALID_CHANNEL", // a channel the session does not declare
  "FORBIDDEN", // 403: the speaker banned this user (or name) from the session (`kick {ban}`)
  "VALIDATION_ERROR", // a connect URL the server cannot read (a malformed `v`): retrying sends it again
]);

/** API Gateway's WebSocket frame limit, in bytes of the encoded (UTF-8) frame: a bigger one is not sent. */
export const MAX_FRAME_BYTES = 32_768;

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
 * INVALID_SESSION_ID are final; UNAUTHORIZED is final unless the token provider gives a fresh token (the
 * client asks it); SESSION_FULL and CONNECT_FAILED (anything else) are retried, after `retryAfterMs` when
 * the lookup's answer carried a `Retry-After`.
 */
export class RefusedError extends LiveSessionError {
  override name = "RefusedError";
  constructor(
    code: string,
    message: string,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(code, message, !FATAL_REFUSALS.has(code) && code !== "UNAUTHORIZED");
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
    /** The answer's `Retry-After`, in ms, when it had one. */
    readonly retryAfterMs?: number,
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

/**
 * The action was sent and then failed where nobody can say whether it took effect: API Gateway's integration
 * error (`{"message": "Internal server error", "connectionId", "requestId"}`, no `type`, no `id`: a worker
 * died) names no action, so every action in flight on that connection fails with this at once. The client
 * never sends such an action again by itself (a broadcast or message could happen twice): the app decides.
 */
export class OutcomeUnknownError extends LiveSessionError {
  override name = "OutcomeUnknownError";
  constructor(
    readonly action: string,
    readonly requestId?: string,
  ) {
    super("OUTCOME_UNKNOWN", `the server failed while handling ${action}; whether it took effect is unknown`, true);
  }
}

/** The encoded action is bigger than API Gateway's WebSocket frame limit (MAX_FRAME_BYTES): it was not sent. */
export class FrameTooLargeError extends LiveSessionError {
  override name = "FrameTooLargeError";
  readonly limit = MAX_FRAME_BYTES;
  constructor(
    readonly action: string,
    readonly size: number,
  ) {
    super("FRAME_TOO_LARGE", `${action} encodes to ${size} bytes; API Gateway's WebSocket frame limit is ${MAX_FRAME_BYTES} bytes`, false);
  }
}

/** An argument the server would refuse, caught before anything is sent (VALIDATION_ERROR naming the field). */
export class ValidationError extends LiveSessionError {
  override name = "ValidationError";
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super("VALIDATION_ERROR", `${field} ${problem}`, false);
  }
}

/** The client is closed (by `close()`, the session's end, or a final refusal). */
export class ClosedError extends LiveSessionError {
  override name = "ClosedError";
  constructor(why: string) {
    super("CLOSED", why, false);
  }
}
