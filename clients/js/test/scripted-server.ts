/**
 * The scripted server of tests/clients/scripted_cases.json for this client: the twin of the Python suite's
 * tests/clients/scripted_server.py, reading the same table (its `about` says the grammar). A real HTTP
 * server on a free port: WebSocket handshakes are really accepted, refused (status, contract body,
 * `Retry-After`) or reset, and `GET /sessions/{id}` answers the session view, as the HTTP API would.
 */

import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";

export type Spec = number | string | Record<string, unknown> | null;
export interface Step {
  join?: Record<string, unknown>;
  expect?: Record<string, unknown> | null;
  push?: Spec[];
  await?: string;
  /** Frames pushed after the awaited action arrives and before its answer (they overtake it). */
  before?: Spec[];
  answer?: Spec;
  drop?: boolean;
}
export interface Script {
  handshake: number | "reset";
  code?: string;
  retryAfter?: number;
  steps?: Step[];
}
export interface Table {
  session: Record<string, unknown>;
  clientOptions: {
    gapTimeoutMs: number;
    backoffInitialMs: number;
    backoffMaxMs: number;
    fullBackoffInitialMs: number;
    fullBackoffMaxMs: number;
    requestTimeoutMs: number;
  };
  cases: Case[];
}
export interface Case {
  name: string;
  server: Script[];
  app?: { token?: string | string[]; channel?: string; name?: string; calls?: Call[] };
  expect: Record<string, unknown>;
}
export interface Call {
  call: string;
  args?: unknown[];
  /** Python's keyword arguments: this client's trailing options object (keys in camelCase). */
  kwargs?: Record<string, unknown>;
  /** The call returns an async iterator: its value is `{items: <how many it yielded>}`. */
  collect?: boolean;
  returns?: Record<string, unknown> | boolean;
  raises?: string;
}

type Frame = Record<string, unknown>;

/** A bare number n is the broadcast of seq n, "es:n" that of seq n in channel es's stream; a `session` is merged
 * over the default view; batches nest. */
export function frame(table: Table, spec: Spec): Frame | null {
  if (typeof spec === "number") return { type: "broadcast", data: spec, ts: 1, seq: spec };
  if (typeof spec === "string") {
    const [channel, seq] = spec.split(":");
    return { type: "broadcast", data: spec, ts: 1, seq: Number(seq), channel };
  }
  if (spec === null) return null;
  const built: Frame = { ...spec };
  if (typeof built["session"] === "object" && built["session"] !== null) built["session"] = { ...table.session, ...built["session"] };
  if (Array.isArray(built["events"])) built["events"] = (built["events"] as Spec[]).map((event) => frame(table, event));
  return built;
}

/** A queue of one action's frames as the client sent them. */
class Inbox {
  private readonly frames: Frame[] = [];
  private waiting: ((frame: Frame) => void) | null = null;

  put(frame: Frame): void {
    if (this.waiting) {
      this.waiting(frame);
      this.waiting = null;
    } else this.frames.push(frame);
  }

  next(): Promise<Frame> {
    const frame = this.frames.shift();
    return frame ? Promise.resolve(frame) : new Promise((resolve) => (this.waiting = resolve));
  }
}

export class ScriptedServer {
  readonly queries: Record<string, string>[] = [];
  readonly sent = new Map<string, number>();
  readonly problems: string[] = [];
  /** `GET /sessions/{id}` calls (the refusal lookup). */
  lookups = 0;
  done = false;
  private readonly http: Server;
  private readonly wss = new WebSocketServer({ noServer: true });

  constructor(
    private readonly table: Table,
    private readonly scripts: Script[],
  ) {
    this.http = createServer((request, response) => {
      // The refusal lookup a browser's client makes; with `ws` the handshake's answer is read itself.
      this.lookups += 1;
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify(request.url?.startsWith("/sessions/") ? table.session : {}));
    });
    this.http.on("upgrade", (request: IncomingMessage, socket: Duplex, head: Buffer) => this.handshake(request, socket, head));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.http.listen(0, "127.0.0.1", resolve));
    return `127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    this.http.closeAllConnections();
    await new Promise((resolve) => this.http.close(resolve));
  }

  private handshake(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const index = this.queries.length;
    this.queries.push(Object.fromEntries(new URL(request.url ?? "/", "http://x").searchParams));
    const script = this.scripts[index];
    if (!script) {
      this.problems.push(`handshake ${index + 1} was not scripted`);
      socket.end("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    if (index === this.scripts.length - 1 && !script.steps) this.done = true;
    if (script.handshake === "reset") {
      socket.destroy(); // accepted, then nothing: no HTTP answer at all
      return;
    }
    if (script.handshake === 101) {
      this.wss.handleUpgrade(request, socket, head, (ws) => void this.play(ws, script));
      return;
    }
    const body = JSON.stringify({ error: { code: script.code ?? "X", message: "scripted", requestId: "r" } });
    const retryAfter = script.retryAfter !== undefined ? `Retry-After: ${script.retryAfter}\r\n` : "";
    socket.end(
      `HTTP/1.1 ${script.handshake} Refused\r\nContent-Type: application/json\r\n${retryAfter}` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }

  private async play(ws: WebSocket, script: Script): Promise<void> {
    const inbox = new Map<string, Inbox>();
    const box = (action: string): Inbox => inbox.get(action) ?? inbox.set(action, new Inbox()).get(action)!;
    ws.on("message", (data) => {
      const action = JSON.parse(String(data)) as Frame;
      const name = String(action["action"]);
      this.sent.set(name, (this.sent.get(name) ?? 0) + 1);
      if (name === "ping") ws.send(JSON.stringify({ type: "pong", ts: 1, id: action["id"] }));
      else box(name).put(action);
    });
    let closed = false;
    ws.on("close", () => (closed = true));
    for (const step of script.steps ?? []) {
      if (closed) return;
      if (step.drop) {
        ws.terminate(); // the TCP connection ends without a close frame
        return;
      }
      if (step.push) {
        for (const spec of step.push) ws.send(JSON.stringify(frame(this.table, spec)));
        continue;
      }
      const action = step.join ? "join" : String(step.await);
      const received = await box(action).next();
      for (const [name, value] of Object.entries(step.expect ?? {})) {
        if (JSON.stringify(received[name] ?? null) !== JSON.stringify(value)) this.problems.push(`${action} carried ${name}=${JSON.stringify(received[name])}, not ${JSON.stringify(value)}`);
      }
      for (const spec of step.before ?? []) ws.send(JSON.stringify(frame(this.table, spec))); // overtaking the answer
      const answer = step.join ? this.joined(step.join) : frame(this.table, step.answer ?? null);
      if (answer) {
        if ("type" in answer) answer["id"] = received["id"];
        ws.send(JSON.stringify(answer));
      }
    }
    if (script === this.scripts.at(-1)) this.done = true;
  }

  private joined(fields: Record<string, unknown>): Frame | null {
    const joined = { type: "joined", role: "listener", connectionId: `c${this.queries.length}`, ...fields };
    return frame(this.table, { ...joined, session: fields["session"] ?? {} });
  }
}
