/**
 * The client's own rules, against a scripted server (test/fakes.ts): seq order and de-duplication, gap
 * recovery, resume, refusal reasons, request IDs, keepalive and backoff. The stack tests prove the same
 * against the real handlers; these pin the cases a real server rarely produces on cue.
 */

import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import {
  ActionError,
  backoffDelay,
  DisconnectedError,
  RefusedError,
  StreamOrderer,
  type StateChange,
} from "../src/index.js";
import { broadcast, closeAll, FakeServer, make, received, tick, view } from "./fakes.js";

afterEach(closeAll);

describe("stream order", () => {
  it("delivers out-of-order and repeated events once each, in seq order", async () => {
    const server = new FakeServer();
    server.session = view({ seq: 1 });
    const live = make(server);
    const seqs = received(live);
    await live.connect();
    for (const seq of [3, 2, 2, 5, 4, 1, 3]) server.last.push(broadcast(seq));
    assert.deepEqual(seqs, [2, 3, 4, 5]);
    assert.deepEqual(live.stats, { delivered: 4, duplicates: 3, outOfOrder: 2, skipped: 0 });
    assert.deepEqual(live.position, { seq: 5, epoch: "e1" });
  });

  it("holds events that arrive before joined, and drops those the joined view already counts", async () => {
    const server = new FakeServer();
    server.session = view({ seq: 4 });
    server.joinDelayMs = 40;
    const live = make(server);
    const seqs = received(live);
    const connecting = live.connect();
    await tick(10); // open; join sent, joined not yet pushed
    server.last.push(broadcast(6));
    server.last.push(broadcast(4));
    server.last.push(broadcast(5));
    assert.deepEqual(seqs, []);
    await connecting;
    assert.deepEqual(seqs, [5, 6]);
  });

  it("asks for a gap that does not fill again by re-joining with sinceSeq on the same connection", async () => {
    const server = new FakeServer();
    server.session = view({ seq: 1 });
    server.replay = [broadcast(2), broadcast(3), broadcast(4)];
    const live = make(server);
    const seqs = received(live);
    await live.connect();
    server.last.push(broadcast(4));
    await tick(10);
    assert.deepEqual(seqs, [], "an event ahead of a gap waits");
    await tick(60);
    assert.deepEqual(seqs, [2, 3, 4]);
    const joins = server.last.sent.filter((frame) => frame.action === "join");
    assert.equal(joins.length, 2);
    assert.equal(joins[1]?.["sinceSeq"], 1);
    assert.equal(joins[1]?.["epoch"], "e1");
    assert.equal(server.sockets.length, 1, "on the same connection");
    assert.equal(server.fetches.length, 0, "no HTTP call");
  });

  it("resets from the session view when the server cannot replay the gap", async () => {
    const server = new FakeServer();
    server.session = view({ seq: 1 });
    const live = make(server);
    const seqs = received(live);
    const resets: unknown[] = [];
    live.on("reset", (reset) => resets.push(reset));
    await live.connect();
    server.recovers = false;
    server.session = view({ seq: 90, epoch: "e1" });
    server.last.push(broadcast(91));
    server.last.push(broadcast(40));
    await tick(80);
    assert.equal(resets.length, 1);
    assert.deepEqual(seqs, [91], "events after the new baseline still arrive");
    server.last.push(broadcast(92));
    assert.deepEqual(seqs, [91, 92]);
  });

  it("hands over what follows a hole that a second ask does not fill (a server that cannot list missing)", async () => {
    const server = new FakeServer();
    server.session = view({ seq: 1 });
    const live = make(server);
    const seqs = received(live);
    await live.connect();
    server.last.push(broadcast(3));
    await tick(120);
    assert.deepEqual(seqs, [3]);
    assert.equal(live.stats.skipped, 1);
    assert.equal(server.last.sent.filter((frame) => frame.action === "join").length, 2, "asked once, then skipped");
  });

  it("starts recovering at once when the buffer ahead of a gap is full", async () => {
    const server = new FakeServer();
    server.session = view({ seq: 0 });
    server.replay = [1, 2, 3, 4, 5].map(broadcast);
    const live = make(server, { maxBuffered: 2, gapTimeoutMs: 60_000 });
    const seqs = received(live);
    await live.connect();
    for (const seq of [3, 4, 5]) server.last.push(broadcast(seq));
    await tick(20);
    assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
  });

  it("counts the speaker's own broadcastSent as seen, so its next stream event is no gap", () => {
    const delivered: number[] = [];
    const orderer = new StreamOrderer<{ seq: number }>((event) => delivered.push(event.seq));
    orderer.release(10);
    orderer.markSeen(11);
    orderer.push({ seq: 13 });
    assert.equal(orderer.hasGap, true);
    orderer.markSeen(12);
    assert.deepEqual(delivered, [13]);
    assert.equal(orderer.hasGap, false);
  });
});

describe("resume", () => {
  it("rejoins after a drop with sinceSeq and epoch, and a recovered join continues without a reset", async () => {
    const server = new FakeServer();
    server.session = view({ seq: 2 });
    const live = make(server);
    const seqs = received(live);
    const resets: unknown[] = [];
    live.on("reset", (reset) => resets.push(reset));
    await live.connect();
    server.last.push(broadcast(3));
    server.last.drop();
    await tick(40);
    const join = server.last.sent.find((frame) => frame.action === "join");
    assert.equal(join?.["sinceSeq"], 3);
    assert.equal(join?.["epoch"], "e1");
    server.last.push(broadcast(3)); // replayed: already seen
    server.last.push(broadcast(4));
    assert.deepEqual(seqs, [3, 4]);
    assert.deepEqual(resets, []);
    assert.equal(live.state, "connected");
  });

  it("resets when the rejoined stream has another epoch, even if the server says recovered", async () => {
    const server = new FakeServer();
    server.session = view({ seq: 7 });
    const live = make(server);
    const resets: { reason: string }[] = [];
    live.on("reset", (reset) => resets.push(reset));
    await live.connect();
    server.session = view({ seq: 2, epoch: "e2" });
    server.last.drop();
    await tick(40);
    assert.deepEqual(
      resets.map((reset) => reset.reason),
      ["epochChanged"],
    );
    assert.deepEqual(live.position, { seq: 2, epoch: "e2" });
  });

  it("starts from a saved position", async () => {
    const server = new FakeServer();
    server.session = view({ seq: 9 });
    const live = make(server, { resume: { seq: 5, epoch: "e1" } });
    await live.connect();
    const join = server.last.sent[0];
    assert.equal(join?.["sinceSeq"], 5);
  });
});

describe("refused joins", () => {
  async function refusal(lookup: ReturnType<typeof view> | number, sessionId = "quiet-river-482"): Promise<RefusedError> {
    const server = new FakeServer();
    server.refuseHandshakes = 1;
    server.sessionLookup = lookup;
    const live = make(server, { sessionId });
    const error = await live.connect().then(
      () => assert.fail("joined"),
      (failure: unknown) => failure,
    );
    assert.ok(error instanceof RefusedError);
    assert.equal(live.state, "closed");
    assert.equal(server.sockets.length, 1, "a final refusal is not retried");
    return error;
  }

  it("names SESSION_NOT_FOUND, SESSION_ENDED and INVALID_SESSION_ID, and stops", async () => {
    assert.equal((await refusal(404)).code, "SESSION_NOT_FOUND");
    assert.equal((await refusal(view({ status: "ended" }))).code, "SESSION_ENDED");
    assert.equal((await refusal(view(), "Not A Session")).code, "INVALID_SESSION_ID");
  });

  it("retries SESSION_FULL and other failures with backoff until it gets in", async () => {
    const server = new FakeServer();
    server.refuseHandshakes = 2;
    server.sessionLookup = view({ listenerCount: 10, maxListeners: 10 });
    const live = make(server);
    const states: StateChange[] = [];
    live.on("state", (change) => states.push(change));
    setTimeout(() => (server.sessionLookup = 503), 5);
    await live.connect();
    const failures = states.filter((change) => change.error).map((change) => change.error?.code);
    assert.equal(failures[0], "SESSION_FULL");
    assert.equal(failures.length, 2);
    assert.ok(states.every((change) => change.state !== "closed"));
    assert.equal(live.state, "connected");
    assert.equal(server.sockets.length, 3);
  });

  it("gives up after maxAttempts", async () => {
    const server = new FakeServer();
    server.refuseHandshakes = 10;
    server.sessionLookup = 503;
    const live = make(server, { maxAttempts: 2 });
    await assert.rejects(live.connect(), (error: RefusedError) => error.code === "GAVE_UP");
    assert.equal(server.sockets.length, 3);
  });
});

describe("requests", () => {
  it("matches each answer to its request by id, whatever the order, and gives the app each frame once", async () => {
    const server = new FakeServer();
    server.answerPings = false;
    const live = make(server);
    const frames: string[] = [];
    live.on("event", (event) => frames.push(event.type));
    await live.connect();
    const first = live.ping();
    const second = live.history();
    await tick();
    const [ping, history] = server.last.sent.slice(1);
    assert.ok(ping?.id && history?.id && ping.id !== history.id);
    server.last.push({ type: "history", items: [], nextCursor: null, id: history.id });
    server.last.push({ type: "pong", ts: 42, id: ping.id });
    assert.equal((await first).ts, 42);
    assert.deepEqual((await second).items, []);
    assert.deepEqual(frames, ["joined", "history", "pong"]);
  });

  it("rejects with the error answer's code and field", async () => {
    const server = new FakeServer();
    const live = make(server);
    await live.connect();
    const sending = live.sendMessage("");
    await tick();
    const frame = server.last.sent.at(-1);
    server.last.push({ type: "error", code: "VALIDATION_ERROR", message: "text is too short", field: "text", id: frame?.id });
    await assert.rejects(sending, (error: ActionError) => error.code === "VALIDATION_ERROR" && error.field === "text");
  });

  it("rejects an unanswered action with DisconnectedError when the link drops, and queues one sent while reconnecting", async () => {
    const server = new FakeServer();
    server.answerPings = false;
    const live = make(server);
    await live.connect();
    const lost = live.ping();
    await tick();
    server.last.drop();
    await assert.rejects(lost, DisconnectedError);
    server.answerPings = true;
    assert.equal((await live.ping()).type, "pong");
    assert.equal(server.sockets.length, 2);
  });
});

describe("keepalive and backoff", () => {
  it("pings while connected and reconnects when a ping goes unanswered", async () => {
    const server = new FakeServer();
    const live = make(server, { keepaliveMs: 20, pongTimeoutMs: 20 });
    await live.connect();
    await tick(50);
    assert.ok(server.last.sent.some((frame) => frame.action === "ping"), "a keepalive ping");
    server.answerPings = false;
    await tick(120);
    assert.ok(server.sockets.length >= 2, "a dead link is replaced");
    assert.equal(server.sockets[0]?.closed?.code, 4002);
  });

  it("grows each delay up to the cap, with half of it random", () => {
    const low = [0, 1, 2, 3, 10].map((attempt) => backoffDelay(attempt, { initialMs: 100, maxMs: 1000 }, () => 0));
    const high = [0, 1, 2, 3, 10].map((attempt) => backoffDelay(attempt, { initialMs: 100, maxMs: 1000 }, () => 1));
    assert.deepEqual(low, [50, 100, 200, 400, 500]);
    assert.deepEqual(high, [100, 200, 400, 800, 1000]);
  });
});

describe("the session's end", () => {
  it("closes the client after sessionEnded, without reconnecting", async () => {
    const server = new FakeServer();
    const live = make(server);
    await live.connect();
    const states: StateChange[] = [];
    live.on("state", (change) => states.push(change));
    server.last.push({ type: "sessionEnded", session: view({ status: "ended", seq: 1 }), seq: 1 });
    await tick(20);
    assert.equal(live.state, "closed");
    assert.equal(states.at(-1)?.reason, "ended");
    assert.equal(server.sockets.length, 1);
  });
});
