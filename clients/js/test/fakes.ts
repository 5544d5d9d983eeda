/**
 * A scripted server for the client's unit tests: a WebSocket constructor whose sockets answer `join` and
 * `ping` like the real one (unless told not to), and a fetch that answers the two HTTP routes the client
 * calls. Each test drives frames and drops by hand, so order, duplicates, gaps and timing are exact.
 */

import {
  LiveSession,
  type BroadcastEvent,
  type LiveSessionOptions,
  type SessionView,
  type WebSocketConstructor,
  type WebSocketLike,
} from "../src/index.js";

type Frame = Record<string, unknown> & { action?: string; id?: string };

export function view(overrides: Partial<SessionView> = {}): SessionView {
  return {
    sessionId: "quiet-river-482",
    title: "",
    status: "active",
    listenerCount: 0,
    muted: false,
    createdAt: 1,
    seq: 0,
    epoch: "e1",
    maxListeners: 10,
    channels: [],
    ...overrides,
  };
}

export class FakeSocket implements WebSocketLike {
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly sent: Frame[] = [];
  closed: { code?: number; reason?: string } | null = null;

  constructor(
    readonly url: string,
    private readonly server: FakeServer,
  ) {
    setTimeout(() => {
      if (server.refuseHandshakes > 0) {
        server.refuseHandshakes -= 1;
        this.onerror?.({});
        this.onclose?.({ code: 1006, reason: "" });
      } else this.onopen?.({});
    });
  }

  send(data: string): void {
    const frame = JSON.parse(data) as Frame;
    this.sent.push(frame);
    this.server.answer(this, frame);
  }

  close(code?: number, reason?: string): void {
    this.closed = { ...(code !== undefined ? { code } : {}), ...(reason !== undefined ? { reason } : {}) };
  }

  /** A frame from the server. */
  push(frame: object): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** The link drops (no close frame). */
  drop(): void {
    this.onclose?.({ code: 1006, reason: "" });
  }
}

export class FakeServer {
  readonly sockets: FakeSocket[] = [];
  session = view();
  refuseHandshakes = 0;
  answerPings = true;
  /** What `join {sinceSeq}` answers; the test pushes the replayed events itself. */
  recovers = true;
  /** How long `joined` takes (events pushed meanwhile arrive before it). */
  joinDelayMs = 0;
  /** Frames pushed right after the next resumed `joined` (the server's replay), then forgotten. */
  replay: object[] = [];
  /** Extra fields of the next `joined` answers (e.g. `missing`). */
  joinedExtra: Record<string, unknown> = {};
  /** GET /sessions/{id}: a view, or an HTTP status. */
  sessionLookup: SessionView | number = view();
  /** Headers of a refused lookup (e.g. Retry-After). */
  lookupHeaders: Record<string, string> = {};
  /** GET /sessions/{id}/events pages, in order. */
  eventPages: object[] = [];
  readonly fetches: string[] = [];

  readonly WebSocket: WebSocketConstructor;

  constructor() {
    const server = this;
    this.WebSocket = class extends FakeSocket {
      constructor(url: string) {
        super(url, server);
        server.sockets.push(this);
      }
    };
  }

  get last(): FakeSocket {
    const socket = this.sockets.at(-1);
    if (!socket) throw new Error("no socket yet");
    return socket;
  }

  answer(socket: FakeSocket, frame: Frame): void {
    const id = frame.id;
    if (frame.action === "join") {
      const resumed = typeof frame["sinceSeq"] === "number";
      const joined = {
        type: "joined",
        role: "listener",
        session: this.session,
        connectionId: `conn${this.sockets.length}`,
        ...(resumed ? { recovered: this.recovers } : {}),
        ...this.joinedExtra,
        id,
      };
      const replay = resumed ? this.replay.splice(0) : [];
      setTimeout(() => {
        socket.push(joined);
        for (const event of replay) socket.push(event);
      }, this.joinDelayMs);
    } else if (frame.action === "ping" && this.answerPings) {
      setTimeout(() => socket.push({ type: "pong", ts: 1, id }));
    }
  }

  readonly fetch = async (url: string): Promise<Response> => {
    this.fetches.push(url);
    const path = new URL(url).pathname;
    if (path.endsWith("/events")) {
      const page = this.eventPages.shift();
      return page ? json(200, page) : json(500, { error: { code: "INTERNAL_ERROR", message: "no page scripted" } });
    }
    const lookup = this.sessionLookup;
    return typeof lookup === "number"
      ? json(lookup, { error: { code: `HTTP_${lookup}`, message: "scripted" } }, this.lookupHeaders)
      : json(200, lookup);
  };

  /** The GETs of the session the client made (its refusal lookups). */
  get lookups(): number {
    return this.fetches.filter((url) => !new URL(url).pathname.endsWith("/events")).length;
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

export const tick = (ms = 0): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const opened: LiveSession[] = [];

/** A client of `server` with short timers; `closeAll` (each test file's afterEach) closes every one made. */
export function make(server: FakeServer, options: Partial<LiveSessionOptions> = {}): LiveSession {
  const live = new LiveSession({
    wsUrl: "ws://fake/stage",
    httpUrl: "http://fake",
    sessionId: "quiet-river-482",
    WebSocket: server.WebSocket,
    fetch: server.fetch,
    backoff: { initialMs: 5, maxMs: 20 },
    fullBackoff: { initialMs: 5, maxMs: 20 },
    gapTimeoutMs: 30,
    ...options,
  });
  opened.push(live);
  return live;
}

export function closeAll(): void {
  for (const live of opened.splice(0)) live.close();
}

export const broadcast = (seq: number): BroadcastEvent => ({ type: "broadcast", data: { n: seq }, ts: seq, seq });

/** The seqs of the broadcasts `live` hands its app, in the order handed. */
export function received(live: LiveSession): number[] {
  const seqs: number[] = [];
  live.on("broadcast", (event) => seqs.push(event.seq));
  return seqs;
}
