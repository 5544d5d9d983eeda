/**
 * Presence, reactions and kick against the real handlers behind the local stack (started by
 * tests/clients/test_js_client.py): a named listener listed for the speaker, its presence data and its reaction
 * reaching the speaker, and a kick with ban that closes the listener's client for good and keeps its name out.
 * The notices asserted are the first of their second (a trailing one needs the stack's notice queue, which the
 * server's tests cover). Skipped while the server has no presence action.
 */

import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { RefusedError, type PresenceMember } from "../src/index.js";
import { client, closeAll, createSession, HTTP_URL, next, token } from "./helpers.js";

afterEach(closeAll);

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
    const joined = await listener.connect();

    const members = async (): Promise<PresenceMember[]> => (await speaker.presence()).members;
    const ada = (await members()).find((member) => member.connectionId === joined.connectionId);
    assert.deepEqual([ada?.role, ada?.name], ["listener", "Ada"]);
    assert.deepEqual((await listener.setPresence({ hand: true })).member.data, { hand: true });
    assert.ok((await members()).some((member) => JSON.stringify(member.data) === '{"hand":true}'));
    let pages = 0;
    for await (const page of speaker.presencePages({ limit: 1 })) pages += page.members.length === 1 ? 1 : 0;
    assert.equal(pages, 2);

    // The first reaction notice goes out at once; later ones within its second follow as the trailing notice.
    const reactions = next(speaker, "reactions");
    assert.equal((await listener.react("👏", { confirm: true })).reaction, "👏");
    assert.deepEqual((await reactions).counts, { "👏": 1 });
    assert.equal(listener.react("clap"), true);

    const closed = next(listener, "state", (change) => change.state === "closed");
    const told = next(listener, "kicked");
    const kicked = await speaker.kick(joined.connectionId, { ban: true });
    assert.deepEqual([kicked.type, kicked.connectionId, kicked.banned], ["kicked", joined.connectionId, true]);
    assert.equal((await told).connectionId, joined.connectionId);
    assert.equal((await closed).reason, "kicked");
    assert.equal(speaker.state, "connected");
    assert.deepEqual((await members()).map((member) => member.connectionId), [speaker.connectionId]);

    await assert.rejects(client(session.sessionId, { name: "Ada" }).connect(), (error: RefusedError) => error.code === "FORBIDDEN" && !error.retryable);
  });
});
