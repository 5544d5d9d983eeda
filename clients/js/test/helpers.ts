/**
 * What the stack tests share: the running local stack's URLs and tokens, a session factory, a client
 * factory (Node 20: the `ws` package as the WebSocket), a TCP proxy that can cut connections the way a
 * network does, and a bounded wait for an event.
 *
 * Given by tests/clients/test_js_client.py (it starts the stack): LIVE_SESSIONS_HTTP, LIVE_SESSIONS_WS and
 * LIVE_SESSIONS_TOKENS ({"user": "<jwt>"}). Run by hand against `make dev`, the defaults apply and tokens
 * come from `python -m local token`.
 */

import { execFileSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

import {
  HttpApi,
  LiveSession,
  type CreateSessionBody,
  type LiveSessionEvents,
  type LiveSessionOptions,
  type SessionView,
  type WebSocketConstructor,
  type WebSocketLike,
} from "../src/index.js";

export const HTTP_URL = process.env["LIVE_SESSIONS_HTTP"] ?? "http://127.0.0.1:3000";
export const WS_URL = process.env["LIVE_SESSIONS_WS"] ?? "ws://127.0.0.1:3001";
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");

const minted: Record<string, string> = JSON.parse(process.env["LIVE_SESSIONS_TOKENS"] ?? "{}") as Record<string, string>;

export function token(user: string): string {
  minted[user] ??= execFileSync(path.join(REPO, ".venv/bin/python"), ["-m", "local", "token", user], {
    cwd: REPO,
    encoding: "utf8",
  }).trim();
  return minted[user];
}

export async function createSession(owner: string, body: CreateSessionBody = {}): Promise<SessionView> {
  return new HttpApi({ httpUrl: HTTP_URL, token: token(owner) }).createSession({ title: "js client test", ...body });
}

/** A client with fast retries (tests wait for reconnects) that `closeAll` closes. */
const clients: LiveSession[] = [];
export function client(sessionId: string, options: Partial<LiveSessionOptions> = {}): LiveSession {
  const live = new LiveSession({
    httpUrl: HTTP_URL,
    wsUrl: WS_URL,
    sessionId,
    WebSocket,
    backoff: { initialMs: 50, maxMs: 400 },
    ...options,
  });
  clients.push(live);
  return live;
}

export function closeAll(): void {
  for (const live of clients.splice(0)) live.close();
}

type Name = keyof LiveSessionEvents;

/** The first `name` event (from now) that satisfies `test`; fails after `ms`. */
export function next<K extends Name>(
  live: LiveSession,
  name: K,
  test: (value: LiveSessionEvents[K]) => boolean = () => true,
  ms = 8_000,
): Promise<LiveSessionEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${String(name)} event in ${ms} ms`));
    }, ms);
    const off = live.on(name, (value) => {
      if (!test(value)) return;
      clearTimeout(timer);
      off();
      resolve(value);
    });
  });
}

/** Collects every `name` event from now on. */
export function collect<K extends Name>(live: LiveSession, name: K): LiveSessionEvents[K][] {
  const seen: LiveSessionEvents[K][] = [];
  live.on(name, (value) => seen.push(value));
  return seen;
}

export async function eventually(check: () => boolean, what: string, ms = 8_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A TCP proxy in front of the WebSocket API: `cut()` destroys every connection through it without a close
 * frame (what a dropped network looks like to both ends: 1006) and refuses new ones until `restore()`.
 */
export class Proxy {
  private readonly sockets = new Set<net.Socket>();
  private refusing = false;
  private readonly server: net.Server;

  private constructor(target: URL) {
    this.server = net.createServer((inbound) => {
      if (this.refusing) return inbound.destroy();
      const outbound = net.connect(Number(target.port), target.hostname);
      for (const socket of [inbound, outbound]) {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
        socket.on("error", () => socket.destroy());
      }
      inbound.pipe(outbound).pipe(inbound);
      inbound.on("close", () => outbound.destroy());
      outbound.on("close", () => inbound.destroy());
    });
  }

  static async start(wsUrl = WS_URL): Promise<Proxy> {
    const proxy = new Proxy(new URL(wsUrl));
    await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get url(): string {
    const address = this.server.address() as net.AddressInfo;
    return `ws://127.0.0.1:${address.port}`;
  }

  cut(): void {
    this.refusing = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.refusing = false;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/**
 * A real WebSocket (the `ws` package) that loses the frames `lose` picks, once each: what a client sees when
 * a push never reaches it while the connection stays up.
 */
export function lossyWebSocket(lose: (frame: { type?: string; data?: unknown }) => boolean): WebSocketConstructor {
  return class implements WebSocketLike {
    onopen: WebSocketLike["onopen"] = null;
    onmessage: WebSocketLike["onmessage"] = null;
    onclose: WebSocketLike["onclose"] = null;
    onerror: WebSocketLike["onerror"] = null;
    private readonly ws: WebSocket;

    constructor(url: string) {
      this.ws = new WebSocket(url);
      this.ws.onopen = (event) => this.onopen?.(event);
      this.ws.onclose = (event) => this.onclose?.(event);
      this.ws.onerror = (event) => this.onerror?.(event);
      this.ws.onmessage = (event) => {
        if (!lose(JSON.parse(String(event.data)) as { type?: string })) this.onmessage?.(event);
      };
    }

    send(data: string): void {
      this.ws.send(data);
    }

    close(code?: number, reason?: string): void {
      this.ws.close(code, reason);
    }
  };
}
