/**
 * Channels against the real handlers behind the local stack (started by tests/clients/test_js_client.py):
 * `subscribe` switches a listener's stream, a listener on a channel resumes both streams after a network
 * drop, `publish` over HTTP reaches one channel's listeners with each event's stream and seq, and a channel the
 * session does not declare is refused INVALID_CHANNEL, in Node and the browser's way (from `session.channels`).
 */

import assert from "node:assert/strict";
import { after, afterEach, describe, it } from "node:test";

import { type BroadcastEvent, type LiveSession, type RefusedError } from "../src/index.js";
import { client, closeAll, collect, createSession, eventually, lossyWebSocket, next, Proxy, token } from "./helpers.js";

afterEach(closeAll);

const CHANNELS = ["es", "fr"];

async function talk(): Promise<{ sessionId: string; speaker: LiveSession }> {
  const { sessionId } = await createSession("alice", { channels: CHANNELS });
  const speaker = client(sessionId, { token: token("alice") });
  await speaker.connect();
  return { sessionId, speaker };
}

const heard = (events: BroadcastEvent[]): [string | null, number, unknown][] =>
  events.map((event) => [event.channel ?? null, event.seq, event.data]);

describe("channels", () => {
  const proxies: Proxy[] = [];
  after(async () => {
    for (const proxy of proxies) await proxy.stop();
  });

  it("subscribe switches a listener from one channel's stream to another's", async () => {
    const { sessionId, speaker } = await talk();
    const listener = client(sessionId, { channel: "es" });
    const seen = collect(listener, "broadcast");
    const joined = await listener.connect();
    assert.deepEqual(joined.channelStream, { channel: "es", seq: 0 });
    assert.equal((await speaker.broadcast("es 1", { channel: "es" })).channel, "es");
    await eventually(() => seen.length === 1, "the es broadcast");
    await speaker.broadcast("fr 1", { channel: "fr" });
    const switched = await listener.subscribe("fr");
    assert.deepEqual([switched.channel, switched.seq], ["fr", 1]);
    assert.equal(listener.channel, "fr");
    await speaker.broadcast("es 2", { channel: "es" });
    await speaker.broadcast("fr 2", { channel: "fr" });
    const everyone = await speaker.broadcast("all");
    await eventually(() => seen.length === 3, "the fr and session-wide broadcasts");
    assert.deepEqual(heard(seen), [["es", 1, "es 1"], ["fr", 2, "fr 2"], [null, everyone.seq, "all"]]);
    assert.deepEqual([listener.position?.channel, listener.position?.channelSeq], ["fr", 2]);
  });

  it("a listener on a channel cut off by the network resumes both streams, each in order, once", async () => {
    const proxy = await Proxy.start();
    proxies.push(proxy);
    const { sessionId, speaker } = await talk();
    const listener = client(sessionId, { wsUrl: proxy.url, channel: "es" });
    const seen = collect(listener, "broadcast");
    const joins = collect(listener, "joined");
    const resets = collect(listener, "reset");
    await listener.connect();
    await speaker.broadcast("es 1", { channel: "es" });
    await eventually(() => seen.length === 1, "the first broadcast");

    const reconnecting = next(listener, "state", (change) => change.state === "reconnecting");
    proxy.cut();
    await reconnecting;
    await speaker.broadcast("es 2", { channel: "es" });
    const everyone = await speaker.broadcast("all");
    await speaker.broadcast("es 3", { channel: "es" });
    await speaker.broadcast("fr 1", { channel: "fr" });
    const backIn = next(listener, "state", (change) => change.state === "connected", 15_000);
    proxy.restore();
    await backIn;
    await eventually(() => seen.length === 4, "the missed broadcasts of both streams");
    // Each stream in its own order (the replay brings the session's stream first, then the channel's).
    assert.deepEqual(heard(seen.filter((event) => event.channel === "es")), [["es", 1, "es 1"], ["es", 2, "es 2"], ["es", 3, "es 3"]]);
    assert.deepEqual(heard(seen.filter((event) => event.channel === undefined)), [[null, everyone.seq, "all"]]);
    assert.equal(joins.at(-1)?.recovered, true);
    assert.deepEqual(resets, []);
    assert.equal(listener.position?.channelSeq, 3);
  });

  it("publish over HTTP reaches one channel's listeners, with each event's stream and seq", async () => {
    const { sessionId, speaker } = await talk();
    const es = client(sessionId, { channel: "es" });
    const fr = client(sessionId, { channel: "fr" });
    const [onEs, onFr] = [collect(es, "broadcast"), collect(fr, "broadcast")];
    await es.connect();
    await fr.connect();
    const answer = await speaker.publish([{ data: "hola" }, { data: "salut", channel: "fr" }], { channel: "es" });
    assert.deepEqual(answer.items, [
      { channel: "es", seq: 1 },
      { channel: "fr", seq: 1 },
    ]);
    const everyone = await speaker.publish({ data: "all" });
    const seq = everyone.items[0]?.seq ?? 0;
    assert.equal(everyone.items[0]?.channel, null);
    await eventually(() => onEs.length === 2 && onFr.length === 2, "each channel's event and the session-wide one");
    assert.deepEqual(heard(onEs), [["es", 1, "hola"], [null, seq, "all"]]);
    assert.deepEqual(heard(onFr), [["fr", 1, "salut"], [null, seq, "all"]]);
    const page = await speaker.api.events(sessionId, 0, undefined, undefined, "es");
    assert.deepEqual(page.items.map((event) => "data" in event && event.data), ["hola"]);
  });

  it("a channel the session does not declare is refused INVALID_CHANNEL: from the handshake, and from session.channels in a browser", async () => {
    const { sessionId } = await talk();
    const isInvalidChannel = (error: RefusedError): boolean => error.code === "INVALID_CHANNEL" && !error.retryable;
    await assert.rejects(client(sessionId, { channel: "de" }).connect(), isInvalidChannel);
    // A WebSocket that shows no handshake answer, as a browser's: the client asks GET /sessions/{id}.
    const browserLike = client(sessionId, { channel: "de", WebSocket: lossyWebSocket(() => false) });
    await assert.rejects(browserLike.connect(), isInvalidChannel);
  });
});
