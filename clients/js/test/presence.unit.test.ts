/**
 * The client's checks of presence and reaction arguments before anything is sent: the `checks` lists of
 * tests/clients/scripted_cases.json (the Python client runs the same lists in tests/clients/test_python_presence.py,
 * and both follow the server's rules), and what only TypeScript can get wrong (undefined, NaN, a sync throw where a
 * promise is due). The frames themselves: the scripted cases (scripted.test.ts).
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, it } from "node:test";

import { checkName, checkPresenceData, checkReaction, LiveSession, ValidationError, type PresenceChangedEvent } from "../src/index.js";
import { closeAll, FakeServer, make, tick } from "./fakes.js";

afterEach(closeAll);

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../.."); // .test-build/test -> clients/js
const TABLE_FILE = process.env["LIVE_SESSIONS_SCRIPTED_CASES"] ?? path.join(ROOT, "../../tests/clients/scripted_cases.json");
type Lists = { valid: unknown[]; invalid: unknown[] };
const checks = (JSON.parse(readFileSync(TABLE_FILE, "utf8")) as { checks: Record<string, Lists> }).checks;

const CHECKS: Record<string, { field: string; check: (value: never) => unknown }> = {
  name: { field: "name", check: checkName },
  reaction: { field: "reaction", check: checkReaction },
  presenceData: { field: "data", check: checkPresenceData },
};

function refusal(run: () => unknown): ValidationError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ValidationError, String(error));
    return error;
  }
  assert.fail("not refused");
}

describe("the arguments both clients check (scripted_cases.json `checks`)", () => {
  for (const [kind, { field, check }] of Object.entries(CHECKS)) {
    const lists = checks[kind];
    assert.ok(lists, `the table lists ${kind}`);
    for (const value of lists.valid) {
      it(`${kind}: ${JSON.stringify(value).slice(0, 30)} passes unchanged`, () => assert.equal(check(value as never), value));
    }
    for (const value of lists.invalid) {
      it(`${kind}: ${JSON.stringify(value).slice(0, 30)} is VALIDATION_ERROR naming ${field}`, () => {
        const error = refusal(() => check(value as never));
        assert.deepEqual([error.code, error.field, error.retryable], ["VALIDATION_ERROR", field, false]);
      });
    }
  }
});

describe("what only TypeScript can get wrong", () => {
  it("presence data that is not JSON is refused (JSON.stringify would drop it or write null)", () => {
    for (const data of [undefined, () => 1, Number.NaN, Number.POSITIVE_INFINITY, { at: Number.NaN }, 10n]) {
      assert.match(refusal(() => checkPresenceData(data)).message, /data must be JSON/);
    }
  });

  it("a bad name is refused when the client is made", () => {
    const error = refusal(() => new LiveSession({ wsUrl: "ws://x", httpUrl: "http://x", sessionId: "quiet-river-482", name: "a\tb", WebSocket: new FakeServer().WebSocket }));
    assert.equal(error.field, "name");
  });

  it("setPresence and a confirmed reaction reject (a promise is due); a fire-and-forget reaction throws", async () => {
    const server = new FakeServer();
    const live = make(server);
    await live.connect();
    await assert.rejects(live.setPresence({ big: "x".repeat(2000) }), ValidationError);
    await assert.rejects(live.react("Clap", { confirm: true }), ValidationError);
    assert.throws(() => live.react("Clap"), ValidationError);
    assert.equal(server.last.sent.filter((frame) => frame.action !== "join").length, 0, "nothing sent");
  });

  it("a fire-and-forget reaction goes without an id when connected, and is dropped (false) when not", async () => {
    const server = new FakeServer();
    const live = make(server);
    assert.equal(live.react("clap"), false);
    await live.connect();
    assert.equal(live.react("👏"), true);
    assert.deepEqual(server.last.sent.at(-1), { action: "react", reaction: "👏" });
  });

  it("presenceChanged is a typed event of its own, outside the stream's order", async () => {
    const server = new FakeServer();
    const live = make(server, { name: "Ada" });
    const seen: PresenceChangedEvent[] = [];
    live.on("presenceChanged", (event) => seen.push(event));
    await live.connect();
    assert.equal(new URL(server.last.url).searchParams.get("name"), "Ada");
    server.last.push({ type: "presenceChanged", joined: [], left: ["c2"], updated: [], count: 1, channels: {} });
    await tick();
    assert.deepEqual(seen.map((event) => event.left), [["c2"]]);
    assert.deepEqual(live.stats, { delivered: 0, duplicates: 0, outOfOrder: 0, skipped: 0 });
  });

  it("kicked naming this connection closes the client (reason kicked) without a new socket", async () => {
    const server = new FakeServer();
    const live = make(server);
    const joined = await live.connect();
    const closed = new Promise((resolve) => live.on("state", (change) => change.state === "closed" && resolve(change.reason)));
    server.last.push({ type: "kicked", sessionId: "quiet-river-482", connectionId: joined.connectionId, banned: false });
    server.last.drop();
    assert.equal(await closed, "kicked");
    await tick(30);
    assert.equal(server.sockets.length, 1);
  });
});
