/**
 * What keeps a client alive through the server's and the gateway's failures, against a scripted server:
 * a lost connection (`CONNECTION_NOT_FOUND`), API Gateway's integration error, token renewal, refusal
 * retries (`Retry-After`, a full session, a refused token), `batch` frames, `joined.missing` and the
 * 32 KB frame limit.
 */

import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import {
  ActionError,
  FrameTooLargeError,
  MAX_FRAME_BYTES,
  OutcomeUnknownError,
  PROTOCOL_VERSION,
  RefusedError,
  type StateChange,
} from "../src/index.js";
import { broadcast, closeAll, FakeServer, make, received, tick, view } from "./fakes.js";

afterEach(closeAll);

const INTEGRATION_ERROR = { message: "Internal server error", connectionId: "conn1", requestId: "req-1" };

describe("a connection the server lost", () => {
  it("treats an unsolicited CONNECTION_NOT_FOUND as a drop: reconnects and resumes", async () => {
    const server = new FakeServer();
    server.session = view({ seq: 3 });
    const live = make(server);
    const seqs = received(live);
    await live.connect();
    server.last.push({ type: "error", code: "CONNECTION_NOT_FOUND", message: "connection not found" });
    await tick(40);
    assert.equal(server.sockets.length, 2);
    assert.equal(server.last.sent[0]?.["sinceSeq"], 3, "the rejoin resumes");
    server.last.push(broadcast(4));
    assert.deepEqual(seqs, [4]);
    assert.equal(live.state, "connected");
  });

  it("rejects the action it answered (it was not done) and reconnects", async () => {
    const server = new FakeServer();
    const live = make(server);
    await live.connect();
    const sending = live.broadcast({ n: 1 });
    await tick();
    const frame = server.last.sent.at(-1);
    server.last.push({ type: "error", code: "CONNECTION_NOT_FOUND", message: "gone", id: frame?.id });
    await assert.rejects(sending, (error: ActionError) => error instanceof ActionError && error.code === "CONNECTION_NOT_FOUND");
    await tick(40);
    assert.equal(server.sockets.length, 2);
    assert.equal(live.state, "connected");
  });
});

describe("API Gateway's integration error", () => {
  it("fails every action in flight at once as outcome unknown, and sends none again", async () => {
    const server = new FakeServer();
    server.answerPings = false;
    const live = make(server, { requestTimeoutMs: 60_000 });
    await live.connect();
    const sends = [live.broadcast({ n: 1 }), live.sendMessage("hi"), live.ping()];
    await tick();
    server.last.push(INTEGRATION_ERROR);
    const outcomes = await Promise.allSettled(sends);
    for (const outcome of outcomes) {
      assert.equal(outcome.status, "rejected");
      assert.ok(outcome.reason instanceof OutcomeUnknownError);
      assert.equal(outcome.reason.code, "OUTCOME_UNKNOWN");
      assert.equal(outcome.reason.requestId, "req-1");
    }
    await tick(30);
    const actions = server.last.sent.map((frame) => frame.action);
    assert.deepEqual(actions, ["join", "broadcast", "sendMessage", "ping"], "nothing sent again");
    assert.equal(server.sockets.length, 1, "the connection itself is fine");
  });

  it("sends a join it hit again on the same connection (a join is idempotent; a new one would take a second seat)", async () => {
    const server = new FakeServer();
    server.joinDelayMs = 1_000;
    const live = make(server);
    const states: StateChange[] = [];
    live.on("state", (change) => states.push(change));
    const connecting = live.connect();
    await tick(10);
    server.joinDelayMs = 0;
    server.last.push(INTEGRATION_ERROR);
    await connecting;
    assert.equal(server.sockets.length, 1);
    const joins = server.last.sent.filter((frame) => frame.action === "join");
    assert.equal(joins.length, 2);
    assert.notEqual(joins[0]?.id, joins[1]?.id);
    assert.deepEqual(states.filter((change) => change.error), [], "the app is told of no error");
  });
});

describe("tokens", () => {
  it("asks the token provider before every handshake", async () => {
    const server = new FakeServer();
    let issued = 0;
    const live = make(server, { token: async () => `token-${++issued}` });
    await live.connect();
    server.last.drop();
    await tick(40);
    const tokens = server.sockets.map((socket) => new URL(socket.url).searchParams.get("token"));
    assert.deepEqual(tokens, ["token-1", "token-2"]);
  });

  it("renews the connection with a fresh token before the 2-hour cap, after the actions in flight", async () => {
    const server = new FakeServer();
    server.answerPings = false;
    server.session = view({ seq: 5 });
    let issued = 0;
    const live = make(server, { token: () => `token-${++issued}`, renewAfterMs: 30 });
    const states: StateChange[] = [];
    live.on("state", (change) => states.push(change));
    const resets: unknown[] = [];
    live.on("reset", (reset) => resets.push(reset));
    await live.connect();
    const ping = live.ping();
    await tick(60);
    assert.equal(server.sockets.length, 1, "the renewal waits for the ping in flight");
    const pingFrame = server.last.sent.at(-1);
    server.last.push({ type: "pong", ts: 1, id: pingFrame?.id });
    assert.equal((await ping).type, "pong");
    await tick(10);
    assert.ok(server.sockets.length >= 2, "a new connection");
    const second = server.sockets[1];
    assert.equal(new URL(second?.url ?? "").searchParams.get("token"), "token-2");
    assert.equal(second?.sent[0]?.["sinceSeq"], 5, "it resumes");
    assert.deepEqual(resets, []);
    assert.ok(states.every((change) => !change.error), "a renewal is no failure");
  });

  it("stops on UNAUTHORIZED when the token is fixed, and when the provider has no other", async () => {
    for (const token of ["expired", () => "expired"]) {
      const server = new FakeServer();
      server.refuseHandshakes = 5;
      server.sessionLookup = 401;
      const live = make(server, { token });
      await assert.rejects(live.connect(), (error: RefusedError) => error.code === "UNAUTHORIZED" && error.status === 401);
      assert.equal(server.sockets.length, 1);
      assert.equal(live.state, "closed");
    }
  });

  it("retries UNAUTHORIZED with the provider's fresh token", async () => {
    const server = new FakeServer();
    server.refuseHandshakes = 1;
    server.sessionLookup = 401;
    let issued = 0;
    const live = make(server, { token: () => `token-${++issued}` });
    await live.connect();
    const tokens = server.sockets.map((socket) => new URL(socket.url).searchParams.get("token"));
    assert.deepEqual(tokens, ["token-1", "token-2"]);
  });
});

describe("refusal retries", () => {
  async function firstRetry(server: FakeServer, options = {}): Promise<StateChange> {
    const live = make(server, options);
    const retry = new Promise<StateChange>((resolve) =>
      live.on("state", (change) => change.retryInMs !== undefined && resolve(change)),
    );
    void live.connect().catch(() => undefined);
    const change = await retry;
    live.close();
    return change;
  }

  it("waits at least the Retry-After of the refusal lookup", async () => {
    const server = new FakeServer();
    server.refuseHandshakes = 1;
    server.sessionLookup = 503;
    server.lookupHeaders = { "retry-after": "7" };
    const change = await firstRetry(server);
    assert.equal(change.error?.code, "CONNECT_FAILED");
    assert.equal(change.retryInMs, 7_000);
  });

  it("backs off towards minutes while the session is full", async () => {
    const server = new FakeServer();
    server.refuseHandshakes = 1;
    server.sessionLookup = view({ listenerCount: 10, maxListeners: 10 });
    const change = await firstRetry(server, { fullBackoff: undefined, random: () => 0 });
    assert.equal(change.error?.code, "SESSION_FULL");
    assert.equal(change.retryInMs, 5_000, "half of the first 10 s step (the other half is jitter)");
  });

  it("asks GET /sessions/{id} once for refusals that come close together", async () => {
    const server = new FakeServer();
    server.refuseHandshakes = 3;
    server.sessionLookup = 503;
    const live = make(server);
    await live.connect();
    assert.equal(server.sockets.length, 4);
    assert.equal(server.lookups, 1);
  });

  it("retries 5xx and 429 lookups, and stops on 400, 404 and 410 only", async () => {
    for (const [lookup, code] of [
      [500, "CONNECT_FAILED"],
      [503, "CONNECT_FAILED"],
      [429, "CONNECT_FAILED"],
    ] as const) {
      const server = new FakeServer();
      server.refuseHandshakes = 1;
      server.sessionLookup = lookup;
      const change = await firstRetry(server);
      assert.equal(change.error?.code, code, String(lookup));
      assert.equal(change.error?.retryable, true);
    }
  });
});

describe("protocol versions 2 and 3", () => {
  it("declares its version on the connect URL", async () => {
    const server = new FakeServer();
    const live = make(server);
    await live.connect();
    assert.equal(new URL(server.last.url).searchParams.get("v"), String(PROTOCOL_VERSION));
    assert.equal(PROTOCOL_VERSION, 3);
  });

  it("unpacks a batch: each event goes through the same order and de-duplication", async () => {
    const server = new FakeServer();
    server.session = view({ seq: 1 });
    const live = make(server);
    const seqs = received(live);
    const frames: string[] = [];
    live.on("event", (event) => frames.push(event.type));
    await live.connect();
    server.last.push(broadcast(3));
    server.last.push({ type: "batch", events: [broadcast(2), broadcast(3), broadcast(4)] });
    assert.deepEqual(seqs, [2, 3, 4]);
    assert.ok(!frames.includes("batch" as never), "the app never sees the envelope");
    assert.equal(live.stats.duplicates, 1);
  });

  it("skips the seqs joined.missing lists instead of waiting for them or resetting", async () => {
    const server = new FakeServer();
    server.session = view({ seq: 2 });
    const live = make(server, { gapTimeoutMs: 60_000 });
    const seqs = received(live);
    const resets: unknown[] = [];
    live.on("reset", (reset) => resets.push(reset));
    await live.connect();
    server.joinedExtra = { missing: [4, 6] };
    server.last.drop();
    await tick(40);
    for (const seq of [3, 5, 7]) server.last.push(broadcast(seq));
    assert.deepEqual(seqs, [3, 5, 7]);
    assert.deepEqual(resets, []);
    assert.deepEqual(live.position, { seq: 7, epoch: "e1" });
  });
});

describe("the frame limit", () => {
  it("refuses, unsent, an action whose encoded frame exceeds 32 KB, counting bytes not characters", async () => {
    const server = new FakeServer();
    const live = make(server);
    await live.connect();
    const before = server.last.sent.length;
    await assert.rejects(
      live.broadcast({ text: "x".repeat(40_000) }),
      (error: FrameTooLargeError) => error instanceof FrameTooLargeError && error.limit === 32_768 && /32768 bytes/.test(error.message),
    );
    // 12 000 three-byte characters: far fewer characters than the limit, more bytes.
    await assert.rejects(live.sendMessage("€".repeat(12_000)), FrameTooLargeError);
    assert.equal(server.last.sent.length, before, "nothing was sent");
    assert.equal(MAX_FRAME_BYTES, 32_768);
  });

  it("sends a frame just under the limit", async () => {
    const server = new FakeServer();
    const live = make(server);
    await live.connect();
    void live.broadcast({ text: "x".repeat(32_000) }).catch(() => undefined);
    await tick();
    assert.equal(server.last.sent.at(-1)?.action, "broadcast");
  });
});
