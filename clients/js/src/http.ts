/**
 * The few HTTP API calls a listener or speaker app needs: create and read a session, and read the event
 * stream (`GET /sessions/{id}/events`, what the WebSocket client uses to fill a gap).
 */

import type { PublishAnswer, PublishEvent } from "./channels.js";
import { HttpError } from "./errors.js";
import type { SessionView, StreamEvent } from "./protocol.js";

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;
/** A token, or a function that returns the current one (so an app can refresh it between reconnects). */
export type TokenSource = string | undefined | (() => string | undefined | Promise<string | undefined>);

export async function resolveToken(token: TokenSource): Promise<string | undefined> {
  return typeof token === "function" ? await token() : token;
}

export interface CreateSessionBody {
  title?: string;
  sourceLanguage?: string;
  maxListeners?: number;
  /** Up to 32 channel names (`^[a-z0-9][a-z0-9._-]{0,31}$`). */
  channels?: string[];
}

export interface EventsPage {
  recovered: boolean;
  session: SessionView;
  items: StreamEvent[];
  nextSinceSeq?: number;
  /** Seqs of this page's range the server vouches will never come (a writer died before keeping them). */
  missing?: number[];
}

export interface HttpApiOptions {
  /** The HTTP API's base URL, e.g. `https://abc.execute-api.eu-west-1.amazonaws.com` or `http://127.0.0.1:3000`. */
  httpUrl: string;
  token?: TokenSource;
  fetch?: FetchLike;
}

export class HttpApi {
  private readonly base: string;
  private readonly fetchFn: FetchLike;

  constructor(private readonly options: HttpApiOptions) {
    this.base = options.httpUrl.replace(/\/+$/, "");
    const fetchFn = options.fetch ?? globalThis.fetch;
    if (!fetchFn) throw new TypeError("no fetch: pass options.fetch");
    this.fetchFn = (url, init) => fetchFn(url, init);
  }

  createSession(body: CreateSessionBody = {}): Promise<SessionView> {
    return this.call("POST", "/sessions", body);
  }

  /** `token` overrides the client's own (the refusal lookup asks with the token the handshake carried). */
  getSession(sessionId: string, token?: TokenSource): Promise<SessionView> {
    return this.call("GET", `/sessions/${encodeURIComponent(sessionId)}`, undefined, token);
  }

  endSession(sessionId: string): Promise<void> {
    return this.call("DELETE", `/sessions/${encodeURIComponent(sessionId)}`);
  }

  /** A page of the session's stream after `sinceSeq`; with `channel`, of that channel's own stream. */
  events(sessionId: string, sinceSeq: number, epoch?: string, limit?: number, channel?: string): Promise<EventsPage> {
    const query = new URLSearchParams({ sinceSeq: String(sinceSeq) });
    if (epoch !== undefined) query.set("epoch", epoch);
    if (limit !== undefined) query.set("limit", String(limit));
    if (channel !== undefined) query.set("channel", channel);
    return this.call("GET", `/sessions/${encodeURIComponent(sessionId)}/events?${query}`);
  }

  /** `POST /sessions/{id}/broadcasts` (the owner's token): 1 to 25 events, each to its channel or to everyone,
   * published in order; the answer gives each one's stream and seq. Not retried: a second try publishes twice. */
  publishEvents(sessionId: string, events: PublishEvent[]): Promise<PublishAnswer> {
    return this.call("POST", `/sessions/${encodeURIComponent(sessionId)}/broadcasts`, { events });
  }

  /** One call; a non-2xx answer is an HttpError with the contract's code (status 0: no answer at all). */
  async call<T>(method: string, path: string, body?: unknown, tokenSource: TokenSource = this.options.token): Promise<T> {
    const headers: Record<string, string> = {};
    const token = await resolveToken(tokenSource);
    if (token) headers["authorization"] = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await this.fetchFn(this.base + path, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (error) {
      throw new HttpError("NETWORK_ERROR", `${method} ${path}: ${String(error)}`, 0);
    }
    const text = await response.text();
    let payload: unknown = undefined;
    if (text) {
      try {
        payload = JSON.parse(text);
      } catch {
        payload = undefined;
      }
    }
    if (!response.ok) {
      const error = (payload as { error?: { code?: unknown; message?: unknown; requestId?: unknown } } | undefined)?.error;
      const requestId = typeof error?.requestId === "string" ? error.requestId : response.headers.get("apigw-requestid");
      throw new HttpError(
        typeof error?.code === "string" ? error.code : `HTTP_${response.status}`,
        typeof error?.message === "string" ? error.message : `${method} ${path} answered ${response.status}`,
        response.status,
        requestId ?? undefined,
        retryAfterMs(response.headers.get("retry-after")),
      );
    }
    return payload as T;
  }
}

/** `Retry-After` (delay-seconds or an HTTP date) in ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
