/**
 * The client against the real handlers behind the local stack (started by tests/clients/test_js_client.py):
 * join, broadcast, pause, end, reconnect and resume, and the refusal codes, as an app sees them.
 */

import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";

import { ActionError, HttpApi, RefusedError, type StateChange } from "../src/index.js";
import {
  client,
  closeAll,
  collect,
  createSession,
  eventually,
  HTTP_URL,
  lossyWebSocket,
  next,
  Proxy,
  token,
} from "./helpers.js";

afterEach(closeAll);

describe("a listener and a speaker", () => {
  it("join with the right roles, and the listener gets each broadcast with its seq", async () => {
    const session = await createSession("alice");
    const speaker = client(session.sessionId, { token: token("alice") });
    const listener = client(session.sessionId);
    const states = collect(listener, "state");
    assert.equal((await speaker.connect()).role, "speaker");
    const joined = await listener.connect();
    assert.equal(joined.role, "listener");
    assert.equal(joined.session.sessionId, session.sessionId);
    assert.deepEqual(
      states.map((change) => change.state),
      ["connecting", "connected"],
    );

    const arriving = next(listener, "broadcast");
    const sent = await speaker.broadcast({ slide: 3 });
    const got = await arriving;
    assert.deepEqual(got.data, { slide: 3 });
    assert.equal(got.seq, sent.seq);
    assert.equal(sent.delivered, 1);
    assert.equal((await listener.ping()).type, "pong");
  });

  it("a listener's speaker action is refused FORBIDDEN; a paused session refuses broadcasts and tells listeners", async () => {
    const session = await createSession("alice");
    const speaker = client(session.sessionId, { token: token("alice") });
    const listener = client(session.sessionId);
    await speaker.connect();
    await listener.connect();
    await assert.rejects(listener.broadcast("not mine"), (error: ActionError) => error.code === "FORBIDDEN");

    const told = next(listener, "sessionUpdated", (event) => event.session.status === "paused");
    assert.equal((await speaker.pause()).session.status, "paused");
    await told;
    await assert.rejects(speaker.broadcast("while paused"), (error: ActionError) => error.code === "SESSION_PAUSED");
    await assert.rejects(speaker.pause(), (error: ActionError) => error.code === "INVALID_TRANSITION");
    assert.equal((await speaker.resume()).session.status, "active");
    assert.equal(listener.session?.status, "active");
  });

  it("end: both get sessionEnded, both clients close, and a later join is refused SESSION_ENDED", async () => {
    const session = await createSession("alice");
    const speaker = client(session.sessionId, { token: token("alice") });
    const listener = client(session.sessionId);
    await speaker.connect();
    await listener.connect();
    const listenerClosed = next(listener, "state", (change) => change.state === "closed");
    const ended = next(listener, "sessionEnded");
    assert.equal((await speaker.end()).session.status, "ended");
    assert.equal((await ended).session.status, "ended");
    assert.equal((await listenerClosed).reason, "ended");
    await eventually(() => speaker.state === "closed", "the speaker's client closes");

    const late = client(session.sessionId);
    await assert.rejects(late.connect(), (error: RefusedError) => error.code === "SESSION_ENDED" && !error.retryable);
  });
});

describe("reconnect and resume", () => {
  const proxies: Proxy[] = [];
  after(async () => {
    for (const proxy of proxies) await proxy.stop();
  });

  it("a listener cut off by the network comes back and gets what it missed, in order, once", async () => {
    const proxy = await Proxy.start();
    proxies.push(proxy);
    const session = await createSession("alice");
    const speaker = client(session.sessionId, { token: token("alice") });
    const listener = client(session.sessionId, { wsUrl: proxy.url });
    const seen = collect(listener, "broadcast");
    const joins = collect(listener, "joined");
    const resets = collect(listener, "reset");
    await speaker.connect();
    await listener.connect();
    await speaker.broadcast(1);
    await eventually(() => seen.length === 1, "the first broadcast");

    const reconnecting = next(listener, "state", (change) => change.state === "reconnecting");
    proxy.cut();
    await reconnecting;
    for (const n of [2, 3, 4]) await speaker.broadcast(n);
    await speaker.sendMessage("while you were away");
    const backIn = next(listener, "state", (change) => change.state === "connected", 15_000);
    const message = next(listener, "message");
    proxy.restore();
    await backIn;
    assert.equal((await message).text, "while you were away");
    await eventually(() => seen.length === 4, "the missed broadcasts");
    assert.deepEqual(
      seen.map((event) => event.data),
      [1, 2, 3, 4],
    );
    const seqs = seen.map((event) => event.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    assert.equal(joins.at(-1)?.recovered, true);
    assert.deepEqual(resets, []);
    await speaker.broadcast(5);
    await eventually(() => seen.length === 5, "a broadcast after the resume");
  });

  it("a push lost on a live connection is asked for again by a re-join on the same connection, and the order kept", async () => {
    const session = await createSession("alice");
    const speaker = client(session.sessionId, { token: token("alice") });
    let dropped = 0;
    const WebSocket = lossyWebSocket((frame) => frame.type === "broadcast" && frame.data === 2 && dropped === 0 && ++dropped === 1);
    const listener = client(session.sessionId, { WebSocket, gapTimeoutMs: 100 });
    const seen = collect(listener, "broadcast");
    await speaker.connect();
    const first = await listener.connect();
    const rejoins = collect(listener, "joined");
    for (const n of [1, 2, 3]) await speaker.broadcast(n);
    await eventually(() => seen.length === 3, "the lost broadcast, recovered");
    assert.equal(dropped, 1);
    assert.deepEqual(
      seen.map((event) => event.data),
      [1, 2, 3],
    );
    assert.ok(listener.stats.outOfOrder >= 1, "3 came ahead of the gap");
    assert.deepEqual(
      rejoins.map((joined) => [joined.connectionId, joined.recovered]),
      [[first.connectionId, true]],
      "one re-join, on the same connection, replayed it",
    );
  });

  it("a connection the server closes (API Gateway's 2-hour cap, a deploy) is reopened by itself", async () => {
    const session = await createSession("alice");
    const speaker = client(session.sessionId, { token: token("alice") });
    const listener = client(session.sessionId);
    await speaker.connect();
    const first = await listener.connect();
    const back = next(listener, "joined", (joined) => joined.connectionId !== first.connectionId);
    // What API Gateway's management API does to end a connection: DELETE @connections/{id} (the local stack's).
    const response = await fetch(`${HTTP_URL}/_connections/@connections/${encodeURIComponent(first.connectionId)}`, { method: "DELETE" });
    assert.equal(response.status, 204);
    await back;
    const arriving = next(listener, "broadcast");
    await speaker.broadcast("still here");
    assert.equal((await arriving).data, "still here");
  });
});

describe("refused joins report the contract's code", () => {
  it("SESSION_NOT_FOUND and INVALID_SESSION_ID stop at once", async () => {
    const missing = client("nope-nope-000");
    await assert.rejects(missing.connect(), (error: RefusedError) => error.code === "SESSION_NOT_FOUND" && error.status === 404);
    const invalid = client("Not A Session!");
    await assert.rejects(invalid.connect(), (error: RefusedError) => error.code === "INVALID_SESSION_ID");
    assert.equal(missing.state, "closed");
  });

  it("SESSION_ENDED for a session ended over HTTP", async () => {
    const session = await createSession("alice");
    await new HttpApi({ httpUrl: HTTP_URL, token: token("alice") }).endSession(session.sessionId);
    await assert.rejects(client(session.sessionId).connect(), (error: RefusedError) => error.code === "SESSION_ENDED");
  });

  it("SESSION_FULL is retried, and the listener gets in once a seat frees", async () => {
    const session = await createSession("alice", { maxListeners: 1 });
    const first = client(session.sessionId);
    await first.connect();
    const second = client(session.sessionId);
    const states: StateChange[] = collect(second, "state");
    const full = next(second, "state", (change) => change.error?.code === "SESSION_FULL");
    const joining = second.connect();
    await full;
    first.close();
    const joined = await joining;
    assert.equal(joined.role, "listener");
    assert.ok(states.some((change) => change.state === "reconnecting" && change.retryInMs !== undefined));
  });
});
