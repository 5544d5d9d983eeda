/**
 * LiveSession: one listener's or speaker's connection to a live session, kept alive.
 *
 *   const live = new LiveSession({ wsUrl, httpUrl, sessionId, token });   // token: the owner's -> speaker
 *   live.on("broadcast", (event) => show(event.data));
 *   await live.connect();                 // resolves on `joined`; rejects on a final refusal
 *   await live.broadcast({ text: "hi" }); // speaker actions resolve with their answer, or reject (ActionError)
 *
 * - states: idle -> connecting -> connected <-> reconnecting -> closed (`state` events say why and when next);
 * - a dropped connection is re-opened with capped, jittered backoff and joined with `sinceSeq` + `epoch`:
 *   the server replays what was missed (`recovered: true`), or says it cannot and the app gets `reset`
 *   with the current session view;
 * - stream events reach the app in `seq` order, once each (StreamOrderer); an event ahead of a gap waits
 *   (bounded) while the missing ones are asked for again by a `join` with `sinceSeq` on the same connection;
 * - a ping every `keepaliveMs` keeps API Gateway's 10-minute idle timeout away and finds a dead link;
 * - every action carries an `id`; its answer (or `error`) settles that action's promise;
 * - a refused handshake is read from its HTTP answer where the WebSocket shows it (Node's `ws`), else (a
 *   browser sees only close 1006) explained by `GET /sessions/{id}` (kept a few seconds): INVALID_SESSION_ID, SESSION_NOT_FOUND and SESSION_ENDED stop, UNAUTHORIZED stops unless the
 *   token provider gives a fresh token; SESSION_FULL backs off towards minutes; anything else retries,
 *   never sooner than a `Retry-After` the lookup carried;
 * - the token (a string, or a provider called before every handshake) is renewed with the connection
 *   before API Gateway's 2-hour cap, so a long talk keeps its speaker;
 * - `error CONNECTION_NOT_FOUND` (the server lost this connection) is a drop: reconnect and resume;
 * - API Gateway's integration error (no `type`, no `id`) fails every action in flight with
 *   OutcomeUnknownError; none is sent again by the client but its own `join`, which that frame has repeated on
 *   the same connection (JOIN_REPEATS times, after the usual backoff) before the connection is given up;
 * - `batch` frames are unpacked, each event taken as if it came alone; `joined.missing` seqs are skipped;
 * - an action whose encoded frame exceeds API Gateway's 32 KB is refused with FrameTooLargeError, unsent;
 * - channels (channels.ts): on one (`channel`, `subscribe()`), the client follows the channel's own stream beside
 *   the session's, in order and once each, and re-joins with both positions; `publish()` over HTTP.
 * - presence and reactions (src/presence.ts): a display `name` on the connect URL and in `join`, `presence()`
 *   pages, `setPresence()`, `react()` (fire-and-forget, or confirmed), the speaker's `kick()`; `kicked`
 *   closes the client for good (no reconnect).
 */

import { backoffDelay, reconnectSpreadMs, renewalDelayMs, type BackoffOptions } from "./backoff.js";
import { ChannelTrack, isChannelEvent, publishBody, type ChannelEvent, type PublishAnswer, type PublishEvent } from "./channels.js";
import { Emitter } from "./emitter.js";
import {
  ActionError,
  ClosedError,
  DisconnectedError,
  FrameTooLargeError,
  LiveSessionError,
  MAX_FRAME_BYTES,
  OutcomeUnknownError,
  RefusedError,
  TimeoutError,
} from "./errors.js";
import { HttpApi, resolveToken, type FetchLike, type TokenSource } from "./http.js";
import {
  isStreamEvent,
  PROTOCOL_VERSION,
  type ActionAnswers,
  type ActionFields,
  type ActionName,
  type BatchFrame,
  type BroadcastSentEvent,
  type EventOf,
  type HistoryEvent,
  type JoinedEvent,
  type MessageEvent,
  type PongEvent,
  type Role,
  type ServerEvent,
  type ServerEventType,
  type SessionEndedEvent,
  type SessionUpdatedEvent,
  type SessionView,
  type StreamEvent,
  type SubscribedEvent,
} from "./protocol.js";
import {
  checkName,
  checkPresenceData,
  checkReaction,
  presenceFields,
  presencePages,
  type KickedEvent,
  type KickOptions,
  type PresenceEvent,
  type PresenceQuery,
  type PresenceSetEvent,
  type ReactedEvent,
} from "./presence.js";
import { readHandshakeRefusal, RefusalLookup, type HandshakeResponse } from "./refusal.js";
import { StreamOrderer } from "./stream.js";

// A handler slot that accepts the browser's and `ws`'s own event types (method parameters are bivariant).
type Handler<E> = { handle(event: E): void }["handle"] | null;

/** What the client needs of a WebSocket: the browser's, or Node's `ws` package (`import WebSocket from "ws"`). */
export interface WebSocketLike {
  onopen: Handler<unknown>;
  onmessage: Handler<{ data: unknown }>;
  onclose: Handler<{ code: number; reason: string }>;
  onerror: Handler<unknown>;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Node's `ws` package also shows a refused handshake's HTTP answer, which a browser's WebSocket hides. */
interface ShowsHandshakeAnswer {
  on?(event: "unexpected-response", listener: (request: unknown, response: HandshakeResponse) => void): unknown;
}

export type ConnectionState = "idle" | "connecting" | "connected" | "reconnecting" | "closed";

export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** Consecutive failed attempts so far (0 once connected). */
  attempt: number;
  /** While reconnecting: how long until the next attempt. */
  retryInMs?: number;
  /** Why the last attempt failed, or why the client closed (absent for `close()` and a session's end). */
  error?: LiveSessionError;
  /** When closed: "client" (close()), "ended" (sessionEnded), "kicked" (the speaker removed it), or the error's code. */
  reason?: string;
}

/** The server could not replay what this client missed: rebuild the app's view from `session`. */
export interface ResetEvent {
  session: SessionView;
  reason: "notRecovered" | "epochChanged";
}

/** A position in a session's stream that a later client can resume from (e.g. kept in localStorage); on a
 * channel, also the channel and the position in its own stream. */
export interface StreamPosition {
  seq: number;
  epoch: string;
  channel?: string;
  channelSeq?: number;
}

export type LiveSessionEvents = { [T in ServerEventType]: EventOf<T> } & {
  state: StateChange;
  reset: ResetEvent;
  /** Every server frame given to the app, in the order given (stream events in seq order). */
  event: ServerEvent;
};

export interface LiveSessionOptions {
  /** The WebSocket API's URL, e.g. `wss://abc.execute-api.eu-west-1.amazonaws.com/prod` or `ws://127.0.0.1:3001`. */
  wsUrl: string;
  /** The HTTP API's URL: refusal reasons come from it (and `api`'s calls). */
  httpUrl: string;
  sessionId: string;
  /** A display name (1 to 64 characters, no control character) others see in presence; sent on the connect
   * URL and in every `join`. An invalid one throws ValidationError here. */
  name?: string;
  /** The session owner's token joins as the speaker; none (or anyone else's) as a listener. A function is a
   * token provider: called for a fresh token before every handshake (each reconnect, each renewal). */
  token?: TokenSource;
  /** Default: `globalThis.WebSocket` (browsers, Node 22+); Node 20 apps pass the `ws` package's. */
  WebSocket?: WebSocketConstructor;
  fetch?: FetchLike;
  /** Resume from a position a previous client saved (its `position`). */
  resume?: StreamPosition;
  /** The channel to be on from the handshake (`&channel=`; default: the `resume` position's, else none). A
   * channel the session does not declare is refused INVALID_CHANNEL. */
  channel?: string | null;
  /** A ping this often while connected (default 240 000: well inside API Gateway's 10-minute idle timeout). */
  keepaliveMs?: number;
  /** A ping unanswered this long means the link is dead: reconnect (default 20 000). */
  pongTimeoutMs?: number;
  /** An action unanswered this long rejects with TimeoutError (default 30 000: API Gateway's limit is 29 s). */
  requestTimeoutMs?: number;
  /** The handshake must complete within this (default 15 000). */
  openTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** The backoff while the session is full (default 10 s doubling up to 5 minutes). */
  fullBackoff?: BackoffOptions;
  /** How long a refused handshake's lookup (`GET /sessions/{id}`) is reused (default 10 000). */
  refusalCacheMs?: number;
  /** The connection is renewed (a fresh token, a new handshake, resume) after this long, before API Gateway
   * closes it at 2 hours (default 6 900 000: 1 h 55 min). */
  renewAfterMs?: number;
  /** Consecutive failed attempts before giving up (default: never give up on a retryable failure). */
  maxAttempts?: number;
  /** How long an event ahead of a gap waits for the missing ones before they are asked for again (default 1 000). */
  gapTimeoutMs?: number;
  /** At most this many events wait ahead of a gap; one more starts the recovery at once (default 256). */
  maxBuffered?: number;
  /** For tests: the jitter's randomness. */
  random?: () => number;
}

interface Pending {
  action: string;
  resolve: (answer: ServerEvent) => void;
  reject: (error: LiveSessionError) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface CloseInfo {
  code: number;
  reason: string;
  /** Why the client itself dropped the socket, when it did. */
  error?: LiveSessionError;
}

const HANDSHAKE_FAILED = Symbol("handshake failed");
// Close codes of sockets the client drops itself (4000-4999: private use).
const CLOSE_JOIN_FAILED = 4000;
const CLOSE_GAP = 4001;
const CLOSE_KEEPALIVE = 4002;
const CLOSE_NOT_FOUND = 4003;
const CLOSE_RENEW = 4004;
const FULL_BACKOFF: BackoffOptions = { initialMs: 10_000, maxMs: 300_000 };
// A `join` answered with API Gateway's integration-error frame (the connection function was throttled or failed) is
// sent again on the same connection, after the usual backoff, this many times before the connection is given up:
// `$connect` already took this connection's seat, so a reconnect would hold a second one until the first one's
// `$disconnect` (itself often lost in a storm) frees it. The server's join is idempotent. The twin of client.py's.
const JOIN_REPEATS = 3;
// Why calls still in flight fail when the client closes for a reason of the session's, not the app's.
const CLOSED_BECAUSE: Readonly<Record<string, string>> = {
  ended: "the session ended",
  kicked: "the speaker removed this connection from the session",
};

export class LiveSession extends Emitter<LiveSessionEvents> {
  readonly sessionId: string;
  readonly api: HttpApi;
  private readonly options: LiveSessionOptions;
  private readonly WebSocketCtor: WebSocketConstructor;
  private readonly orderer: StreamOrderer<StreamEvent>;
  private readonly track: ChannelTrack;
  private readonly refusals: RefusalLookup;

  private currentState: ConnectionState = "idle";
  private ws: WebSocketLike | null = null;
  private epoch: string | null = null;
  private view: SessionView | null = null;
  private joinedAs: Role | null = null;
  private connection: string | null = null;
  private readonly pending = new Map<string, Pending>();
  private requestCounter = 0;
  private readonly requestPrefix = `c${Math.floor(Math.random() * 0xffffff).toString(36)}.`;
  private closing = false;
  private ended = false;
  private everJoined = false;
  private connectedWaiters: { resolve: () => void; reject: (error: LiveSessionError) => void }[] = [];
  private firstJoin: Promise<JoinedEvent> | null = null;
  private settleFirstJoin: { resolve: (joined: JoinedEvent) => void; reject: (error: LiveSessionError) => void } | null =
    null;
  private keepaliveTimer: ReturnType<typeof setInterval> | null = null;
  private gapTimer: ReturnType<typeof setTimeout> | null = null;
  private recovering = false;
  // Both streams' positions when a gap was last asked for: no progress since then means the hole will not fill.
  private gapAskedAt: string | null = null;
  // The connection the keepalive and the renewal run for (a gap's re-join on it starts neither again).
  private servedConnection: WebSocketLike | null = null;
  private wake: (() => void) | null = null;
  private socketDropped: ((info: CloseInfo) => void) | null = null;
  private renewTimer: ReturnType<typeof setTimeout> | null = null;
  // The waits before a join is sent again: ended early when the socket goes or the client closes.
  private readonly joinWaits = new Set<() => void>();
  // A renewal holds new actions back until those in flight are answered, then swaps the connection.
  private renewing = false;
  private idleWaiters: (() => void)[] = [];
  // A token fetched ahead of the next handshake (a renewal's, or a fresh one after UNAUTHORIZED).
  private nextToken: { token: string | undefined } | null = null;
  private handshakeTokenUsed: string | undefined = undefined;

  constructor(options: LiveSessionOptions) {
    super();
    this.options = options;
    this.sessionId = options.sessionId;
    if (options.name !== undefined) checkName(options.name);
    const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ctor) throw new TypeError("no WebSocket in this runtime: pass options.WebSocket (in Node 20: the ws package)");
    this.WebSocketCtor = ctor;
    this.api = new HttpApi({
      httpUrl: options.httpUrl,
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.orderer = new StreamOrderer((event) => this.deliver(event), options.maxBuffered ?? 256);
    const resume = options.resume;
    const channel = options.channel ?? resume?.channel ?? null;
    const channelSeq = resume?.channel === channel ? resume?.channelSeq : undefined;
    this.track = new ChannelTrack((event) => this.deliver(event), options.maxBuffered ?? 256, channel, channelSeq);
    this.refusals = new RefusalLookup(this.api, this.sessionId, options.refusalCacheMs ?? 10_000);
    if (resume) {
      this.orderer.last = resume.seq;
      this.epoch = resume.epoch;
    }
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** The latest session view (from `joined`, `sessionUpdated`, `sessionEnded`, or a reset). */
  get session(): SessionView | null {
    return this.view;
  }

  get role(): Role | null {
    return this.joinedAs;
  }

  get connectionId(): string | null {
    return this.connection;
  }

  /** Where this client is in the session's stream (and its channel's); pass it as `resume` to a later client. */
  get position(): StreamPosition | null {
    if (this.orderer.last === null || this.epoch === null) return null;
    const { channel, orderer } = this.track;
    const onChannel = channel !== null && orderer.last !== null ? { channel, channelSeq: orderer.last } : {};
    return { seq: this.orderer.last, epoch: this.epoch, ...onChannel };
  }

  /** The channel this client is on (null: none). */
  get channel(): string | null {
    return this.track.channel;
  }

  /** Stream events delivered, duplicates dropped, events that came ahead of a gap, seqs skipped (never to
   * come): of both streams together. */
  get stats(): Readonly<{ delivered: number; duplicates: number; outOfOrder: number; skipped: number }> {
    const [session, channel] = [this.orderer.stats, this.track.orderer.stats];
    return {
      delivered: session.delivered + channel.delivered,
      duplicates: session.duplicates + channel.duplicates,
      outOfOrder: session.outOfOrder + channel.outOfOrder,
      skipped: session.skipped + channel.skipped,
    };
  }

  /** Opens the connection and joins; resolves with the first `joined`. Retryable failures are retried
   * (see `state` events); a final refusal (RefusedError), giving up, or `close()` rejects. */
  connect(): Promise<JoinedEvent> {
    if (!this.firstJoin) {
      this.firstJoin = new Promise((resolve, reject) => (this.settleFirstJoin = { resolve, reject }));
      void this.run();
    }
    return this.firstJoin;
  }

  /** Closes for good: pending actions reject with ClosedError, no reconnect. */
  close(): void {
    if (this.currentState === "closed") return;
    this.closing = true;
    this.finish("client");
  }

  // -- actions ------------------------------------------------------------------------------------------------

  ping(): Promise<PongEvent> {
    return this.request("ping", {});
  }

  history(fields: ActionFields["history"] = {}): Promise<HistoryEvent> {
    return this.request("history", fields);
  }

  /** To every listener, or with `channel` to that channel's listeners only (in its own stream). */
  broadcast(data: unknown, options: { channel?: string } = {}): Promise<BroadcastSentEvent> {
    return this.request("broadcast", options.channel !== undefined ? { data, channel: options.channel } : { data });
  }

  /** Moves this connection to `channel` (null: to none) in one step; resolves with `subscribed`, the new channel
   * stream's position: from it on every event of that channel comes, none of the old one's. */
  subscribe(channel: string | null): Promise<SubscribedEvent> {
    return this.request("subscribe", { channel });
  }

  /** Publishes over HTTP (`POST /sessions/{id}/broadcasts`, the owner's token): one event or a list of up to
   * 25 (`{data, channel?}`), those without their own `channel` to `options.channel` (none: everyone); resolves
   * with each one's stream and seq. Not retried by the client (a second try publishes twice). */
  async publish(events: PublishEvent | readonly PublishEvent[], options: { channel?: string | null } = {}): Promise<PublishAnswer> {
    const answer = await this.api.publishEvents(this.sessionId, publishBody(events, options.channel).events);
    // Channel events go to listeners only: the speaker's own are seen here, or its channel stream would wait for them.
    if (this.joinedAs === "speaker") for (const item of answer.items) this.track.markOwn(item.channel, item.seq);
    this.watchGap();
    return answer;
  }

  sendMessage(text: string): Promise<MessageEvent> {
    return this.request("sendMessage", { text });
  }

  pause(): Promise<SessionUpdatedEvent> {
    return this.request("pause", {});
  }

  resume(): Promise<SessionUpdatedEvent> {
    return this.request("resume", {});
  }

  mute(): Promise<SessionUpdatedEvent> {
    return this.request("mute", {});
  }

  unmute(): Promise<SessionUpdatedEvent> {
    return this.request("unmute", {});
  }

  end(): Promise<SessionEndedEvent> {
    return this.request("end", {});
  }

  // -- presence, reactions, moderation (src/presence.ts) ---------------------------------------------------------

  /** One page of who is connected (the speaker; listeners too when the session's presence is public). */
  presence(query: PresenceQuery = {}): Promise<PresenceEvent> {
    return this.request("presence", presenceFields(query));
  }

  /** Every page of `presence`, asked for one at a time as the loop wants them. */
  presencePages(query: PresenceQuery = {}): AsyncGenerator<PresenceEvent, void, undefined> {
    return presencePages((page) => this.presence(page), query);
  }

  /** Sets this connection's presence data (any JSON up to 1 KB; bigger, or not JSON: ValidationError, unsent). */
  async setPresence(data: unknown): Promise<PresenceSetEvent> {
    return this.request("setPresence", { data: checkPresenceData(data) });
  }

  /** A listener's reaction. Fire-and-forget: sent without an `id` if connected now (true), else dropped (false):
   * a reaction is of its moment, never queued. With `{confirm: true}`: sent with an `id`, resolves with the
   * answer (waiting through a reconnect like any action). A malformed reaction throws ValidationError (confirmed:
   * rejects with it). */
  react(reaction: string): boolean;
  react(reaction: string, options: { confirm: true }): Promise<ReactedEvent>;
  react(reaction: string, options: { confirm?: boolean }): boolean | Promise<ReactedEvent>;
  react(reaction: string, options: { confirm?: boolean } = {}): boolean | Promise<ReactedEvent> {
    if (options.confirm === true) return this.confirmedReact(reaction);
    checkReaction(reaction);
    const ws = this.ws;
    if (!ws || this.currentState !== "connected") return false;
    try {
      ws.send(this.encode("react", { reaction }, false).text);
      return true;
    } catch {
      return false; // the link is going: its close is handled there
    }
  }

  private async confirmedReact(reaction: string): Promise<ReactedEvent> {
    return this.request("react", { reaction: checkReaction(reaction) });
  }

  /** The speaker removes a listener (told `kicked`, then closed); `ban` keeps its user (or name) out. */
  kick(connectionId: string, options: KickOptions = {}): Promise<KickedEvent> {
    return this.request("kick", { connectionId, ...(options.ban === true ? { ban: true } : {}) });
  }

  /** Sends an action once connected (waiting through a reconnect) and resolves with its answer. A frame
   * over API Gateway's 32 KB rejects at once with FrameTooLargeError. */
  async request<A extends ActionName>(action: A, fields: ActionFields[A]): Promise<ActionAnswers[A]> {
    if (action === "join") throw new TypeError("join is the client's own: use connect()");
    const outgoing = this.encode(action, fields);
    if (this.currentState !== "connected" || this.renewing) await this.whenConnected();
    if (action === "subscribe") this.track.switching((fields as ActionFields["subscribe"]).channel);
    return (await this.transmit(outgoing, this.options.requestTimeoutMs ?? 30_000)) as ActionAnswers[A];
  }

  // -- the connection loop --------------------------------------------------------------------------------------

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.closing) {
      this.setState(this.everJoined || attempt > 0 ? "reconnecting" : "connecting", { attempt });
      let failure: LiveSessionError;
      try {
        const dropped = await this.openAndJoin();
        attempt = 0;
        const info = await dropped;
        if (this.closing) return;
        if (info.code === CLOSE_RENEW) continue; // a planned swap: no failure, no wait
        failure = info.error ?? new LiveSessionError("CONNECTION_LOST", `the connection closed (${info.code} ${info.reason})`.trim(), true);
      } catch (error) {
        if (this.closing) return;
        failure = asLiveSessionError(error);
        if (failure.code === "INVALID_CHANNEL" && this.everJoined && this.epoch !== null && this.track.channel !== null) {
          // The session stopped offering the channel while this client was away: on none from now, as the
          // server moves the listeners it can reach, and told the same way.
          this.emitFrame(this.track.dropped(this.epoch));
        } else if (failure.code === "UNAUTHORIZED" && (await this.freshToken())) {
          // a new token from the provider: worth another handshake (after the usual backoff)
        } else if (!failure.retryable) {
          this.finish(failure.code, failure);
          return;
        }
      }
      attempt += 1;
      if (attempt > (this.options.maxAttempts ?? Infinity)) {
        this.finish("GAVE_UP", new LiveSessionError("GAVE_UP", `${attempt - 1} attempts failed; last: ${failure.message}`, false));
        return;
      }
      const retryInMs = this.retryDelay(attempt, failure);
      this.setState("reconnecting", { attempt, retryInMs, error: failure });
      await this.sleep(retryInMs);
    }
  }

  /** The wait before attempt `attempt + 1`: minutes-long steps for a full session, never shorter than a
   * `Retry-After` the refusal carried. */
  private retryDelay(attempt: number, failure: LiveSessionError): number {
    const full = failure.code === "SESSION_FULL";
    const delay = backoffDelay(attempt - 1, full ? (this.options.fullBackoff ?? FULL_BACKOFF) : this.options.backoff, this.options.random);
    const floor = failure instanceof RefusedError ? (failure.retryAfterMs ?? 0) : 0;
    // After a drop, maybe everyone's: the first retry also waits a random part of the session's reconnect time.
    const random = this.options.random ?? Math.random;
    const spread = failure.code === "CONNECTION_LOST" && attempt === 1 ? random() * reconnectSpreadMs(this.view?.listenerCount ?? 0) : 0;
    return Math.max(delay, floor, spread);
  }

  /** After UNAUTHORIZED: asks the token provider again; true when it gave a token other than the refused one. */
  private async freshToken(): Promise<boolean> {
    if (typeof this.options.token !== "function") return false;
    try {
      const token = await resolveToken(this.options.token);
      if (token === this.handshakeTokenUsed) return false;
      this.nextToken = { token };
      return true;
    } catch {
      return false;
    }
  }

  /** One handshake and join; resolves (once joined) with a promise of the socket's end. */
  private async openAndJoin(): Promise<Promise<CloseInfo>> {
    const ws = await this.open(await this.handshakeToken());
    const dropped = new Promise<CloseInfo>((resolve) => (this.socketDropped = resolve));
    this.orderer.hold();
    this.track.hold();
    try {
      await this.join();
    } catch (error) {
      this.abandon(ws, CLOSE_JOIN_FAILED, "join failed");
      throw error;
    }
    return dropped;
  }

  /** `join`, resuming from the stream positions when there are some; resolves once `joined` is taken in.
   * Answered with the integration-error frame, the same join (the same positions) is sent again on the same
   * connection after the usual backoff, up to JOIN_REPEATS times; the app sees only the delay. A timeout is not
   * repeated: no answer at all says more about the link than about the server. */
  private async join(): Promise<ServerEvent> {
    const ws = this.ws;
    const position = this.position;
    const resume = position ? { sinceSeq: position.seq, epoch: position.epoch } : {};
    const name = this.options.name !== undefined ? { name: this.options.name } : {};
    const fields = { ...resume, ...this.track.joinFields(position !== null), ...name };
    for (let repeats = 0; ; repeats += 1) {
      try {
        return await this.send("join", fields, this.options.requestTimeoutMs ?? 30_000);
      } catch (error) {
        if (!(error instanceof OutcomeUnknownError) || repeats === JOIN_REPEATS) throw error;
      }
      await this.joinWait(backoffDelay(repeats, this.options.backoff, this.options.random));
      if (this.ws !== ws || this.closing) throw new DisconnectedError("join");
    }
  }

  /** The wait before a join is sent again; `stopTimers` (the socket went, or the client closed) ends it early. */
  private joinWait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.joinWaits.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.joinWaits.add(done);
    });
  }

  /** The token for the next handshake: one fetched ahead (renewal, after UNAUTHORIZED), else a fresh one. */
  private async handshakeToken(): Promise<string | undefined> {
    const ahead = this.nextToken;
    this.nextToken = null;
    if (ahead) return ahead.token;
    try {
      return await resolveToken(this.options.token);
    } catch (error) {
      throw new LiveSessionError("TOKEN_UNAVAILABLE", `the token provider failed: ${String(error)}`, true);
    }
  }

  private async open(token: string | undefined): Promise<WebSocketLike> {
    this.handshakeTokenUsed = token;
    const url = new URL(this.options.wsUrl);
    url.searchParams.set("sessionId", this.sessionId);
    if (token) url.searchParams.set("token", token);
    if (this.options.name !== undefined) url.searchParams.set("name", this.options.name);
    url.searchParams.set("v", String(PROTOCOL_VERSION));
    const channel = this.track.channel;
    if (channel !== null) url.searchParams.set("channel", channel);
    const ws = new this.WebSocketCtor(url.toString());
    this.ws = ws;
    const answer: { refusal?: Promise<RefusedError> } = {};
    (ws as WebSocketLike & ShowsHandshakeAnswer).on?.("unexpected-response", (_request, response) => {
      answer.refusal = readHandshakeRefusal(response);
      void answer.refusal.finally(() => ws.close()); // ws leaves a refused handshake to whoever listens here
    });
    const timeoutMs = this.options.openTimeoutMs ?? 15_000;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new TimeoutError("the WebSocket handshake", timeoutMs)), timeoutMs);
        ws.onopen = () => {
          clearTimeout(timer);
          resolve();
        };
        ws.onclose = () => {
          clearTimeout(timer);
          reject(HANDSHAKE_FAILED);
        };
        ws.onerror = () => undefined; // a close follows: the handshake's status is not shown to browsers
      });
    } catch (error) {
      detach(ws);
      if (this.ws === ws) this.ws = null;
      try {
        ws.close();
      } catch {
        // not open: nothing to close
      }
      if (error === HANDSHAKE_FAILED) throw await (answer.refusal ?? this.refusals.explain(token, channel));
      throw error;
    }
    ws.onmessage = (event) => this.onFrame(event.data);
    ws.onclose = (event) => this.onSocketClosed(ws, { code: event.code, reason: event.reason });
    ws.onerror = () => undefined;
    return ws;
  }

  private onSocketClosed(ws: WebSocketLike, info: CloseInfo): void {
    if (this.ws !== ws) return;
    detach(ws);
    this.ws = null;
    this.stopTimers();
    this.failInFlight((action) => new DisconnectedError(action));
    const dropped = this.socketDropped;
    this.socketDropped = null;
    dropped?.(info);
  }

  /** Gives up on a socket now (its close handshake may never finish on a dead link). */
  private abandon(ws: WebSocketLike, code: number, reason: string, error?: LiveSessionError): void {
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
    this.onSocketClosed(ws, { code, reason, ...(error ? { error } : {}) });
  }

  /** The action as it goes on the wire, with its request id (unless `answered` is false: no answer is wanted);
   * refused here when over the frame limit. */
  private encode(action: ActionName, fields: object, answered = true): { action: ActionName; id: string; text: string } {
    const id = `${this.requestPrefix}${++this.requestCounter}`;
    const text = JSON.stringify(answered ? { action, ...fields, id } : { action, ...fields });
    const size = utf8.encode(text).length;
    if (size > MAX_FRAME_BYTES) throw new FrameTooLargeError(action, size);
    return { action, id, text };
  }

  private async send(action: ActionName, fields: object, timeoutMs: number): Promise<ServerEvent> {
    return this.transmit(this.encode(action, fields), timeoutMs);
  }

  private transmit(outgoing: { action: ActionName; id: string; text: string }, timeoutMs: number): Promise<ServerEvent> {
    const { action, id, text } = outgoing;
    const ws = this.ws;
    if (!ws) return Promise.reject(new DisconnectedError(action));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.takePending(id);
        reject(new TimeoutError(action, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { action, resolve, reject, timer });
      try {
        ws.send(text);
      } catch {
        this.takePending(id);
        reject(new DisconnectedError(action));
      }
    });
  }

  /** Removes an action from those in flight (its timer too); a renewal waiting for none left is told. */
  private takePending(id: string): Pending | undefined {
    const pending = this.pending.get(id);
    if (pending) {
      clearTimeout(pending.timer);
      this.pending.delete(id);
    }
    if (this.pending.size === 0) for (const idle of this.idleWaiters.splice(0)) idle();
    return pending;
  }

  /** Every action in flight rejects with `error(action)`. */
  private failInFlight(error: (action: string) => LiveSessionError): void {
    for (const [id, pending] of [...this.pending]) {
      this.takePending(id);
      pending.reject(error(pending.action));
    }
  }

  // -- frames ---------------------------------------------------------------------------------------------------

  private onFrame(data: unknown): void {
    let frame: unknown;
    try {
      frame = JSON.parse(typeof data === "string" ? data : String(data));
    } catch {
      return; // not JSON: not a frame of this protocol
    }
    if (typeof frame !== "object" || frame === null) return;
    if (isIntegrationError(frame)) {
      // API Gateway's answer when the worker handling some action died: it names no action, so none in
      // flight can be told apart. Each one's outcome is unknown; none is sent again by the client.
      const requestId = typeof frame.requestId === "string" ? frame.requestId : undefined;
      this.failInFlight((action) => new OutcomeUnknownError(action, requestId));
      return;
    }
    if (isBatch(frame)) {
      for (const event of frame.events) if (isFrame(event)) this.onEvent(event);
      return;
    }
    if (isFrame(frame)) this.onEvent(frame);
  }

  private onEvent(frame: ServerEvent): void {
    // `joined` and `subscribed` are taken in before their answers settle, so the app's view is ready by then.
    if (frame.type === "joined") this.onJoined(frame);
    if (frame.type === "subscribed") this.onSubscribed(frame);
    const id = "id" in frame ? frame.id : undefined;
    const pending = typeof id === "string" ? this.takePending(id) : undefined;
    if (pending) {
      if (frame.type === "error") pending.reject(new ActionError(pending.action, frame));
      else pending.resolve(frame);
    }
    if (frame.type === "error" && frame.code === "CONNECTION_NOT_FOUND") {
      // The server no longer knows this connection (it unregistered it): nothing sent on it will be
      // served, nothing will arrive. A drop: reconnect, rejoin, resume.
      const ws = this.ws;
      if (ws) this.abandon(ws, CLOSE_NOT_FOUND, "connection not found", new LiveSessionError("CONNECTION_NOT_FOUND", frame.message, true));
      return;
    }
    if (frame.type === "joined") return;
    if (isStreamEvent(frame)) {
      this.acceptStream(frame);
      return;
    }
    if (frame.type === "broadcastSent" && typeof frame.seq === "number") {
      // The speaker's own broadcast is never pushed to it: no gap (in the stream it went to).
      if (frame.channel === undefined) this.orderer.markSeen(frame.seq);
      else this.track.markOwn(frame.channel, frame.seq);
      this.watchGap();
    }
    if (frame.type === "error" && pending) return; // the action's promise carries it
    this.emitFrame(frame);
    // `kicked` is also the speaker's answer to its own `kick`: only the one naming this connection ends it.
    if (frame.type === "kicked" && !pending && frame.connectionId === this.connection) this.endFor("kicked");
  }

  private onJoined(joined: JoinedEvent): void {
    const resumed = this.orderer.last !== null;
    const epochChanged = resumed && this.epoch !== null && joined.session.epoch !== this.epoch;
    this.view = joined.session;
    this.joinedAs = joined.role;
    this.connection = joined.connectionId;
    this.everJoined = true;
    if (this.currentState !== "connected") this.setState("connected", { attempt: 0 });
    this.emitFrame(joined);
    const continues = resumed && joined.recovered === true && !epochChanged;
    this.track.joined(joined.channelStream, continues);
    if (continues) {
      this.orderer.skip(joined.missing ?? []);
      this.orderer.release();
    } else {
      this.epoch = joined.session.epoch;
      if (resumed) this.emit("reset", { session: joined.session, reason: epochChanged ? "epochChanged" : "notRecovered" });
      this.orderer.release(joined.session.seq ?? 0);
    }
    if (this.servedConnection !== this.ws) {
      this.servedConnection = this.ws;
      this.startKeepalive();
      this.scheduleRenewal();
    }
    this.settleFirstJoin?.resolve(joined);
    this.settleFirstJoin = null;
    for (const waiter of this.connectedWaiters.splice(0)) waiter.resolve();
    this.watchGap();
  }

  private onSubscribed(subscribed: SubscribedEvent): void {
    this.track.subscribed(subscribed);
    this.watchGap();
  }

  private acceptStream(event: StreamEvent): void {
    const result = isChannelEvent(event) ? this.track.push(event) : this.orderer.push(event);
    if (result === "overflow") void this.recover();
    else this.watchGap();
  }

  private deliver(event: StreamEvent | ChannelEvent): void {
    if (event.type === "sessionUpdated" || event.type === "sessionEnded") this.view = event.session;
    this.emitFrame(event);
    // Listeners are closed by the server; the speaker's connection has nothing left to do either.
    if (event.type === "sessionEnded") this.endFor("ended");
  }

  /** The session is over for this client (it ended, or the speaker removed this connection): once the app has
   * the frame that says so, close without reconnecting. */
  private endFor(reason: "ended" | "kicked"): void {
    if (this.ended) return;
    this.ended = true;
    queueMicrotask(() => {
      this.closing = true;
      this.finish(reason);
    });
  }

  private emitFrame(frame: ServerEvent): void {
    this.emit("event", frame);
    this.emit(frame.type, frame as never);
  }

  // -- gaps -----------------------------------------------------------------------------------------------------

  private get hasGap(): boolean {
    return this.orderer.hasGap || this.track.orderer.hasGap;
  }

  private watchGap(): void {
    if (!this.hasGap) {
      if (this.gapTimer) clearTimeout(this.gapTimer);
      this.gapTimer = null;
      this.gapAskedAt = null;
      return;
    }
    if (!this.gapTimer && !this.recovering) {
      this.gapTimer = setTimeout(() => void this.recover(), this.options.gapTimeoutMs ?? 1_000);
    }
  }

  /** Asks the server again for what is missing before the buffered events: `join {sinceSeq, epoch}` on this
   * connection replays it (the rule of clients/PROTOCOL_NOTES.md). An ask that brought nothing since the
   * last one (an older server, which cannot list `missing`) hands over what follows the hole instead of
   * holding it for ever; an ask that fails drops the connection, and the reconnect's join resumes. */
  private async recover(): Promise<void> {
    if (this.recovering || this.closing) return;
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = null;
    const ws = this.ws;
    if (!ws || !this.hasGap) return;
    const last = `${this.orderer.last}/${this.track.orderer.last}`;
    if (this.gapAskedAt === last) {
      this.orderer.skipGap();
      this.track.orderer.skipGap();
      this.gapAskedAt = null;
      this.watchGap();
      return;
    }
    this.gapAskedAt = last;
    this.recovering = true;
    try {
      await this.join();
    } catch {
      if (this.ws === ws) this.abandon(ws, CLOSE_GAP, "stream gap not recovered");
      return;
    } finally {
      this.recovering = false;
    }
    this.watchGap();
  }

  // -- keepalive, state, timers ---------------------------------------------------------------------------------

  private startKeepalive(): void {
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    const every = this.options.keepaliveMs ?? 240_000;
    this.keepaliveTimer = setInterval(() => {
      const ws = this.ws;
      if (!ws || this.currentState !== "connected") return;
      this.send("ping", {}, this.options.pongTimeoutMs ?? 20_000).catch((error: unknown) => {
        if (error instanceof TimeoutError && this.ws === ws) this.abandon(ws, CLOSE_KEEPALIVE, "keepalive ping unanswered");
      });
    }, every);
    (this.keepaliveTimer as { unref?: () => void }).unref?.();
  }

  /** API Gateway closes every connection at 2 hours; the client swaps it before then, on its own terms: a
   * fresh token first (while the old connection still serves), the actions in flight answered, then a new
   * handshake that resumes from the stream position. */
  private scheduleRenewal(): void {
    const ws = this.ws;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    const after = renewalDelayMs(this.options.renewAfterMs ?? 6_900_000, this.options.random); // joiners of one moment renew apart
    this.renewTimer = setTimeout(() => void this.renew(ws), after);
    (this.renewTimer as { unref?: () => void }).unref?.();
  }

  private async renew(ws: WebSocketLike | null): Promise<void> {
    if (!ws || this.ws !== ws || this.closing) return;
    let token: string | undefined;
    try {
      token = await resolveToken(this.options.token);
    } catch {
      return; // no fresh token now: the cap's drop reconnects, asking the provider again
    }
    this.nextToken = { token };
    this.renewing = true;
    if (this.pending.size > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    this.renewing = false;
    if (this.ws === ws) this.abandon(ws, CLOSE_RENEW, "renewing before API Gateway's 2-hour cap");
  }

  private stopTimers(): void {
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    if (this.gapTimer) clearTimeout(this.gapTimer);
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.keepaliveTimer = this.gapTimer = this.renewTimer = null;
    for (const done of [...this.joinWaits]) done();
  }

  private setState(state: ConnectionState, change: Omit<StateChange, "state" | "previous">): void {
    const previous = this.currentState;
    if (previous === "closed") return;
    this.currentState = state;
    this.emit("state", { state, previous, ...change });
  }

  private whenConnected(): Promise<void> {
    if (this.currentState === "closed") return Promise.reject(new ClosedError("the client is closed"));
    if (this.currentState === "idle") return Promise.reject(new ClosedError("call connect() first"));
    return new Promise((resolve, reject) => this.connectedWaiters.push({ resolve, reject }));
  }

  /** A backoff wait that `close()` cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.wake?.(), ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  private finish(reason: string, error?: LiveSessionError): void {
    if (this.currentState === "closed") return;
    this.closing = true;
    const closed = error ?? new ClosedError(CLOSED_BECAUSE[reason] ?? "the client was closed");
    this.failInFlight(() => closed);
    const ws = this.ws;
    if (ws) this.abandon(ws, 1000, reason === "client" ? "client closed" : (CLOSED_BECAUSE[reason] ?? reason));
    this.stopTimers();
    this.wake?.();
    for (const waiter of this.connectedWaiters.splice(0)) waiter.reject(closed);
    this.settleFirstJoin?.reject(closed);
    this.settleFirstJoin = null;
    this.setState("closed", { attempt: 0, reason, ...(error ? { error } : {}) });
  }
}

function detach(ws: WebSocketLike): void {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
}

const utf8 = new TextEncoder();

type JsonObject = Record<string, unknown>;

/** A server frame of this protocol: an object with a `type`. */
function isFrame(value: unknown): value is ServerEvent {
  return typeof value === "object" && value !== null && typeof (value as JsonObject)["type"] === "string";
}

function isBatch(frame: object): frame is BatchFrame {
  const candidate = frame as JsonObject;
  return candidate["type"] === "batch" && Array.isArray(candidate["events"]);
}

/** API Gateway's own frame when an integration failed: `{"message", "connectionId", "requestId"}`, no `type`. */
function isIntegrationError(frame: object): frame is { message: string; requestId?: unknown } {
  const candidate = frame as JsonObject;
  return candidate["type"] === undefined && typeof candidate["message"] === "string" && "requestId" in candidate;
}

function asLiveSessionError(error: unknown): LiveSessionError {
  if (error instanceof LiveSessionError) return error;
  return new LiveSessionError("CONNECT_FAILED", String(error), true);
}

