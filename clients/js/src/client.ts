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
 *   (bounded) while the missing ones are fetched from `GET /sessions/{id}/events`;
 * - a ping every `keepaliveMs` keeps API Gateway's 10-minute idle timeout away and finds a dead link;
 * - every action carries an `id`; its answer (or `error`) settles that action's promise;
 * - a refused handshake (a browser sees only close 1006) is explained by `GET /sessions/{id}`:
 *   INVALID_SESSION_ID, SESSION_NOT_FOUND and SESSION_ENDED stop; SESSION_FULL and anything else retry.
 */

import { backoffDelay, type BackoffOptions } from "./backoff.js";
import { Emitter } from "./emitter.js";
import {
  ActionError,
  ClosedError,
  DisconnectedError,
  LiveSessionError,
  TimeoutError,
} from "./errors.js";
import { HttpApi, resolveToken, type FetchLike, type TokenSource } from "./http.js";
import {
  isStreamEvent,
  type ActionAnswers,
  type ActionFields,
  type ActionName,
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
} from "./protocol.js";
import { diagnoseRefusal } from "./refusal.js";
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
  /** When closed: "client" (close()), "ended" (sessionEnded), or the error's code. */
  reason?: string;
}

/** The server could not replay what this client missed: rebuild the app's view from `session`. */
export interface ResetEvent {
  session: SessionView;
  reason: "notRecovered" | "epochChanged";
}

/** A position in a session's stream that a later client can resume from (e.g. kept in localStorage). */
export interface StreamPosition {
  seq: number;
  epoch: string;
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
  /** The HTTP API's URL: refusal reasons and gap recovery come from it. */
  httpUrl: string;
  sessionId: string;
  /** The session owner's token joins as the speaker; none (or anyone else's) as a listener. */
  token?: TokenSource;
  /** Default: `globalThis.WebSocket` (browsers, Node 22+); Node 20 apps pass the `ws` package's. */
  WebSocket?: WebSocketConstructor;
  fetch?: FetchLike;
  /** Resume from a position a previous client saved (its `position`). */
  resume?: StreamPosition;
  /** A ping this often while connected (default 240 000: well inside API Gateway's 10-minute idle timeout). */
  keepaliveMs?: number;
  /** A ping unanswered this long means the link is dead: reconnect (default 20 000). */
  pongTimeoutMs?: number;
  /** An action unanswered this long rejects with TimeoutError (default 30 000: API Gateway's limit is 29 s). */
  requestTimeoutMs?: number;
  /** The handshake must complete within this (default 15 000). */
  openTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** Consecutive failed attempts before giving up (default: never give up on a retryable failure). */
  maxAttempts?: number;
  /** How long an event ahead of a gap waits for the missing ones before they are fetched (default 1 000). */
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
}

const HANDSHAKE_FAILED = Symbol("handshake failed");

export class LiveSession extends Emitter<LiveSessionEvents> {
  readonly sessionId: string;
  readonly api: HttpApi;
  private readonly options: LiveSessionOptions;
  private readonly WebSocketCtor: WebSocketConstructor;
  private readonly orderer: StreamOrderer<StreamEvent>;

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
  private wake: (() => void) | null = null;
  private socketDropped: ((info: CloseInfo) => void) | null = null;

  constructor(options: LiveSessionOptions) {
    super();
    this.options = options;
    this.sessionId = options.sessionId;
    const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!ctor) throw new TypeError("no WebSocket in this runtime: pass options.WebSocket (in Node 20: the ws package)");
    this.WebSocketCtor = ctor;
    this.api = new HttpApi({
      httpUrl: options.httpUrl,
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
    this.orderer = new StreamOrderer((event) => this.deliver(event), options.maxBuffered ?? 256);
    if (options.resume) {
      this.orderer.last = options.resume.seq;
      this.epoch = options.resume.epoch;
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

  /** Where this client is in the session's stream; pass it as `resume` to a later client. */
  get position(): StreamPosition | null {
    return this.orderer.last !== null && this.epoch !== null ? { seq: this.orderer.last, epoch: this.epoch } : null;
  }

  /** Stream events delivered, duplicates dropped, events that came ahead of a gap. */
  get stats(): Readonly<{ delivered: number; duplicates: number; outOfOrder: number }> {
    return this.orderer.stats;
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

  broadcast(data: unknown): Promise<BroadcastSentEvent> {
    return this.request("broadcast", { data });
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

  /** Sends an action once connected (waiting through a reconnect) and resolves with its answer. */
  async request<A extends ActionName>(action: A, fields: ActionFields[A]): Promise<ActionAnswers[A]> {
    if (action === "join") throw new TypeError("join is the client's own: use connect()");
    if (this.currentState !== "connected") await this.whenConnected();
    return (await this.send(action, fields, this.options.requestTimeoutMs ?? 30_000)) as ActionAnswers[A];
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
        failure = new LiveSessionError("CONNECTION_LOST", `the connection closed (${info.code} ${info.reason})`.trim(), true);
      } catch (error) {
        if (this.closing) return;
        failure = asLiveSessionError(error);
        if (!failure.retryable) {
          this.finish(failure.code, failure);
          return;
        }
      }
      attempt += 1;
      if (attempt > (this.options.maxAttempts ?? Infinity)) {
        this.finish("GAVE_UP", new LiveSessionError("GAVE_UP", `${attempt - 1} attempts failed; last: ${failure.message}`, false));
        return;
      }
      const retryInMs = backoffDelay(attempt - 1, this.options.backoff, this.options.random);
      this.setState("reconnecting", { attempt, retryInMs, error: failure });
      await this.sleep(retryInMs);
    }
  }

  /** One handshake and join; resolves (once joined) with a promise of the socket's end. */
  private async openAndJoin(): Promise<Promise<CloseInfo>> {
    const ws = await this.open();
    const dropped = new Promise<CloseInfo>((resolve) => (this.socketDropped = resolve));
    this.orderer.hold();
    try {
      const position = this.position;
      await this.send("join", position ? { sinceSeq: position.seq, epoch: position.epoch } : {}, this.options.requestTimeoutMs ?? 30_000);
    } catch (error) {
      this.abandon(ws, 4000, "join failed");
      throw error;
    }
    return dropped;
  }

  private async open(): Promise<WebSocketLike> {
    const token = await resolveToken(this.options.token);
    const url = new URL(this.options.wsUrl);
    url.searchParams.set("sessionId", this.sessionId);
    if (token) url.searchParams.set("token", token);
    const ws = new this.WebSocketCtor(url.toString());
    this.ws = ws;
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
      if (error === HANDSHAKE_FAILED) throw await diagnoseRefusal(this.api, this.sessionId);
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
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      this.pending.delete(id);
      pending.reject(new DisconnectedError(pending.action));
    }
    const dropped = this.socketDropped;
    this.socketDropped = null;
    dropped?.(info);
  }

  /** Gives up on a socket now (its close handshake may never finish on a dead link). */
  private abandon(ws: WebSocketLike, code: number, reason: string): void {
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
    this.onSocketClosed(ws, { code, reason });
  }

  private send(action: ActionName, fields: object, timeoutMs: number): Promise<ServerEvent> {
    const ws = this.ws;
    if (!ws) return Promise.reject(new DisconnectedError(action));
    const id = `${this.requestPrefix}${++this.requestCounter}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TimeoutError(action, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { action, resolve, reject, timer });
      try {
        ws.send(JSON.stringify({ action, ...fields, id }));
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new DisconnectedError(action));
      }
    });
  }

  // -- frames ---------------------------------------------------------------------------------------------------

  private onFrame(data: unknown): void {
    let frame: ServerEvent;
    try {
      frame = JSON.parse(typeof data === "string" ? data : String(data)) as ServerEvent;
    } catch {
      return; // not JSON: not a frame of this protocol
    }
    if (typeof frame !== "object" || frame === null || typeof frame.type !== "string") return;
    // `joined` is taken in before its answer settles `connect()`, so the app's view is ready by then.
    if (frame.type === "joined") this.onJoined(frame);
    const id = "id" in frame ? frame.id : undefined;
    const pending = typeof id === "string" ? this.pending.get(id) : undefined;
    if (pending && typeof id === "string") {
      clearTimeout(pending.timer);
      this.pending.delete(id);
      if (frame.type === "error") pending.reject(new ActionError(pending.action, frame));
      else pending.resolve(frame);
    }
    if (frame.type === "joined") return;
    if (isStreamEvent(frame)) {
      this.acceptStream(frame);
      return;
    }
    if (frame.type === "broadcastSent" && typeof frame.seq === "number") this.orderer.markSeen(frame.seq);
    if (frame.type === "error" && pending) return; // the action's promise carries it
    this.emitFrame(frame);
  }

  private onJoined(joined: JoinedEvent): void {
    const resumed = this.orderer.last !== null;
    const epochChanged = resumed && this.epoch !== null && joined.session.epoch !== this.epoch;
    this.view = joined.session;
    this.joinedAs = joined.role;
    this.connection = joined.connectionId;
    this.everJoined = true;
    this.setState("connected", { attempt: 0 });
    this.emitFrame(joined);
    if (resumed && joined.recovered === true && !epochChanged) {
      this.orderer.release();
    } else {
      this.epoch = joined.session.epoch;
      if (resumed) this.emit("reset", { session: joined.session, reason: epochChanged ? "epochChanged" : "notRecovered" });
      this.orderer.release(joined.session.seq ?? 0);
    }
    this.startKeepalive();
    this.settleFirstJoin?.resolve(joined);
    this.settleFirstJoin = null;
    for (const waiter of this.connectedWaiters.splice(0)) waiter.resolve();
    this.watchGap();
  }

  private acceptStream(event: StreamEvent): void {
    const result = this.orderer.push(event);
    if (result === "overflow") void this.recover();
    else this.watchGap();
  }

  private deliver(event: StreamEvent): void {
    if (event.type === "sessionUpdated" || event.type === "sessionEnded") this.view = event.session;
    this.emitFrame(event);
    if (event.type === "sessionEnded" && !this.ended) {
      this.ended = true;
      // Listeners are closed by the server; the speaker's connection has nothing left to do either.
      queueMicrotask(() => {
        this.closing = true;
        this.finish("ended");
      });
    }
  }

  private emitFrame(frame: ServerEvent): void {
    this.emit("event", frame);
    this.emit(frame.type, frame as never);
  }

  // -- gaps -----------------------------------------------------------------------------------------------------

  private watchGap(): void {
    if (!this.orderer.hasGap) {
      if (this.gapTimer) clearTimeout(this.gapTimer);
      this.gapTimer = null;
      return;
    }
    if (!this.gapTimer && !this.recovering) {
      this.gapTimer = setTimeout(() => void this.recover(), this.options.gapTimeoutMs ?? 1_000);
    }
  }

  /** Fetches the events missing before the buffered ones; if that fails, a reconnect's resume does it. */
  private async recover(): Promise<void> {
    if (this.recovering || this.closing) return;
    this.recovering = true;
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = null;
    const before = this.orderer.last;
    let progressed = false;
    try {
      let since = before ?? 0;
      for (;;) {
        const page = await this.api.events(this.sessionId, since, this.epoch ?? undefined);
        if (!page.recovered) {
          this.epoch = page.session.epoch;
          this.view = page.session;
          this.emit("reset", { session: page.session, reason: "notRecovered" });
          this.orderer.release(page.session.seq);
          progressed = true;
          break;
        }
        for (const item of page.items) this.orderer.push(item);
        if (page.nextSinceSeq === undefined || !this.orderer.hasGap) break;
        since = page.nextSinceSeq;
      }
      progressed ||= this.orderer.last !== before;
    } catch {
      progressed = false;
    } finally {
      this.recovering = false;
    }
    if (this.orderer.hasGap && this.ws) {
      if (progressed) this.watchGap();
      else this.abandon(this.ws, 4001, "stream gap not recovered"); // the reconnect's join resumes by seq
    }
  }

  // -- keepalive, state, timers ---------------------------------------------------------------------------------

  private startKeepalive(): void {
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    const every = this.options.keepaliveMs ?? 240_000;
    this.keepaliveTimer = setInterval(() => {
      const ws = this.ws;
      if (!ws || this.currentState !== "connected") return;
      this.send("ping", {}, this.options.pongTimeoutMs ?? 20_000).catch((error: unknown) => {
        if (error instanceof TimeoutError && this.ws === ws) this.abandon(ws, 4002, "keepalive ping unanswered");
      });
    }, every);
    (this.keepaliveTimer as { unref?: () => void }).unref?.();
  }

  private stopTimers(): void {
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.keepaliveTimer = this.gapTimer = null;
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
    const closed = error ?? new ClosedError(reason === "ended" ? "the session ended" : "the client was closed");
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      this.pending.delete(id);
      pending.reject(closed);
    }
    const ws = this.ws;
    if (ws) this.abandon(ws, 1000, reason === "ended" ? "session ended" : "client closed");
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

function asLiveSessionError(error: unknown): LiveSessionError {
  if (error instanceof LiveSessionError) return error;
  return new LiveSessionError("CONNECT_FAILED", String(error), true);
}

