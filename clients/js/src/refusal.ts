/**
 * Why a WebSocket handshake failed. The server refuses with an HTTP status and the contract's error body
 * (400 INVALID_SESSION_ID, 401 UNAUTHORIZED, 404 SESSION_NOT_FOUND, 410 SESSION_ENDED, 429 SESSION_FULL),
 * and perhaps a `Retry-After`. Node's `ws` package shows that answer (`readHandshakeRefusal`); a browser's
 * WebSocket shows none of it: only `close 1006`. So there the client asks the HTTP API about the session,
 * with the token the handshake carried, which tells the same facts the handshake checked.
 *
 * The answer is kept for a few seconds (`RefusalLookup`): a client retrying a full session, or many
 * quick 5xx retries, ask once per window instead of once per handshake.
 */

import { HttpError, RefusedError } from "./errors.js";
import { retryAfterMs, type HttpApi } from "./http.js";
import { CHANNEL_NAME_PATTERN, SESSION_ID_PATTERN, type SessionView } from "./protocol.js";

export async function diagnoseRefusal(api: HttpApi, sessionId: string, token?: string, channel?: string | null): Promise<RefusedError> {
  if (!SESSION_ID_PATTERN.test(sessionId)) {
    return new RefusedError("INVALID_SESSION_ID", `${JSON.stringify(sessionId)} is not a session ID (adjective-noun-NNN)`, 400);
  }
  if (typeof channel === "string" && !CHANNEL_NAME_PATTERN.test(channel)) {
    return new RefusedError("VALIDATION_ERROR", `channel ${JSON.stringify(channel)} is not a channel name (${CHANNEL_NAME_PATTERN.source})`, 400);
  }
  try {
    const session = await api.getSession(sessionId, token);
    if (session.status === "ended") return new RefusedError("SESSION_ENDED", `session ${sessionId} has ended`, 410);
    const undeclared = channelRefusal(session, channel);
    if (undeclared) return undeclared;
    if (typeof session.maxListeners === "number" && session.listenerCount >= session.maxListeners) {
      return new RefusedError("SESSION_FULL", `session ${sessionId} has ${session.listenerCount} of ${session.maxListeners} listeners`, 429);
    }
    return new RefusedError("CONNECT_FAILED", `the connection to session ${sessionId} failed; the session is ${session.status}`);
  } catch (error) {
    if (error instanceof HttpError) {
      if (error.status === 404) return new RefusedError("SESSION_NOT_FOUND", `no session ${sessionId}`, 404);
      if (error.status === 400) return new RefusedError("INVALID_SESSION_ID", error.message, 400);
      if (error.status === 401) return new RefusedError("UNAUTHORIZED", `the token was refused: ${error.message}`, 401);
      return new RefusedError(
        "CONNECT_FAILED",
        `the connection failed and so did GET /sessions/${sessionId}: ${error.message}`,
        error.status || undefined,
        error.retryAfterMs,
      );
    }
    throw error;
  }
}

/** INVALID_CHANNEL when the handshake asked for a channel the session does not declare (`session.channels`). */
function channelRefusal(session: SessionView, channel: string | null | undefined): RefusedError | undefined {
  if (typeof channel !== "string") return undefined;
  const declared = (session.channels ?? []).map((offered) => offered.name);
  if (declared.includes(channel)) return undefined;
  return new RefusedError("INVALID_CHANNEL", `channel ${JSON.stringify(channel)} is not one of this session's channels (${declared.join(", ") || "none"})`, 400);
}

/** `diagnoseRefusal`, its answer reused for `ttlMs` while the token and the channel are the same. */
export class RefusalLookup {
  private last: { at: number; token: string | undefined; channel: string | null; refusal: RefusedError } | null = null;

  constructor(
    private readonly api: HttpApi,
    private readonly sessionId: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async explain(token: string | undefined, channel: string | null = null): Promise<RefusedError> {
    const last = this.last;
    if (last && last.token === token && last.channel === channel && this.now() - last.at < this.ttlMs) return last.refusal;
    const refusal = await diagnoseRefusal(this.api, this.sessionId, token, channel);
    this.last = { at: this.now(), token, channel, refusal };
    return refusal;
  }
}

/** What Node's `ws` package hands its 'unexpected-response' listeners: the handshake's HTTP answer. */
export interface HandshakeResponse {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
  on(event: "data", listener: (chunk: { toString(): string }) => void): unknown;
  on(event: "end" | "error" | "close", listener: () => void): unknown;
}

// A refusal whose body names no code: what its status means in the contract.
const STATUS_CODES: Readonly<Record<number, string>> = {
  400: "INVALID_SESSION_ID",
  401: "UNAUTHORIZED",
  404: "SESSION_NOT_FOUND",
  410: "SESSION_ENDED",
};

/** The refusal a handshake's HTTP answer states: the body's code (else its status's), its `Retry-After`. */
export function readHandshakeRefusal(response: HandshakeResponse): Promise<RefusedError> {
  return new Promise((resolve) => {
    let body = "";
    const done = (): void => {
      const header = response.headers["retry-after"];
      resolve(handshakeRefusal(response.statusCode ?? 0, body, Array.isArray(header) ? (header[0] ?? null) : (header ?? null)));
    };
    response.on("data", (chunk) => (body += chunk.toString()));
    for (const end of ["end", "error", "close"] as const) response.on(end, done); // the first one settles it
  });
}

export function handshakeRefusal(status: number, body: string, retryAfter: string | null): RefusedError {
  let error: { code?: unknown; message?: unknown } | undefined;
  try {
    error = (JSON.parse(body) as { error?: { code?: unknown; message?: unknown } }).error;
  } catch {
    error = undefined; // not the contract's body (a proxy's page, or nothing)
  }
  const code = typeof error?.code === "string" ? error.code : (STATUS_CODES[status] ?? "CONNECT_FAILED");
  const message = typeof error?.message === "string" ? error.message : `the handshake was answered ${status}`;
  return new RefusedError(code, message, status || undefined, retryAfterMs(retryAfter));
}
