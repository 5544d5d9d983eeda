/**
 * Presence, reactions and kick against the real handlers behind the local stack (started by
 * tests/clients/test_js_client.py): a named listener listed for the speaker, its presence data and its reaction
 * reaching the speaker, and a kick with ban that closes the listener's client for good and keeps its name out.
 * Skipped while the server has no presence action.
 */

import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { RefusedError, type PresenceChangedEvent, type PresenceMember, type ReactionsEvent } from "../src/index.js";
import { client, closeAll, collect, createSession, eventually, HTTP_URL, next, token } from "./helpers.js";

afterEach(closeAll);

/** Every `reactions` notice's counts, added up. */
function totals(notices: ReactionsEvent[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const notice of notices) for (const [reaction, count] of Object.entries(notice.counts)) sum[reaction] = (sum[reaction] ?? 0) + count;
  return sum;
}

/** The last word a `presenceChanged` had on a connection (joined or updated), if any. */
function lastSaid(notices: PresenceChangedEvent[], connectionId: string): PresenceMember | undefined {
  return notices.flatMap((notice) => [...(notice.joined ?? []), ...(notice.updated ?? [])]).filter((member) => member.connectionId === connectionId).at(-1);
}

async function serverHasPresence(): Promise<boolean> {
  const document = (await (await fetch(`${HTTP_URL}/asyncapi.json`)).json()) as { operations: Record<string, unknown> };
  return "presence" in document.operations;
}

describe("presence, reactions and kick", () => {
  it("a named member with its data, a reaction to the speaker, and a kick with ban", async (t) => {
    if (!(await serverHasPresence())) return t.skip("the server has no presence action yet (issue 27's server side)");
    const session = await createSession("alice");
    const speaker = client(session.sessionId, { token: token("alice"), name: "Alice" });
    const listener = client(session.sessionId, { name: "Ada" });
    await speaker.connect();
    const changes = collect(speaker, "presenceChanged");
    const reactions = collect(speaker, "reactions");
    const joined = await listener.connect();

    const members = async (): Promise<PresenceMember[]> => (await speaker.presence()).members;
    const ada = (await members()).find((member) => member.connectionId === joined.connectionId);
    assert.deepEqual([ada?.role, ada?.name], ["listener", "Ada"]);
    assert.deepEqual((await listener.setPresence({ hand: true })).member.data, { hand: true });
    assert.ok((await members()).some((member) => JSON.stringify(member.data) === '{"hand":true}'));
    let pages = 0;
    for await (const page of speaker.presencePages({ limit: 1 })) pages += page.members.length === 1 ? 1 : 0;
    assert.equal(pages, 2);
    await eventually(() => JSON.stringify(lastSaid(changes, joined.connectionId)?.data) === '{"hand":true}', "the speaker is told the data");

    assert.equal((await listener.react("👏", { confirm: true })).reaction, "👏");
    assert.equal(listener.react("clap"), true);
    const added = (): string => JSON.stringify(Object.entries(totals(reactions)).sort());
    await eventually(() => added() === JSON.stringify([["clap", 1], ["👏", 1]]), "the reactions add up");

    const closed = next(listener, "state", (change) => change.state === "closed");
    const told = next(listener, "kicked");
    const kicked = await speaker.kick(joined.connectionId, { ban: true });
    assert.deepEqual([kicked.type, kicked.connectionId, kicked.banned], ["kicked", joined.connectionId, true]);
    assert.equal((await told).connectionId, joined.connectionId);
    assert.equal((await closed).reason, "kicked");
    assert.equal(speaker.state, "connected");
    assert.deepEqual((await members()).map((member) => member.connectionId), [speaker.connectionId]);
    await eventually(() => changes.some((notice) => notice.left?.includes(joined.connectionId) && notice.count === 1), "the speaker is told the leave");

    await assert.rejects(client(session.sessionId, { name: "Ada" }).connect(), (error: RefusedError) => error.code === "FORBIDDEN" && !error.retryable);
  });
});
