/**
 * The client's artifacts against the real handlers behind the local stack (started by
 * tests/clients/test_js_client.py): the owner uploads with the presigned form and sees the state storage
 * confirmed, shares it, and a listener (no token) lists the shared ones and downloads exactly the bytes.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Artifacts, HttpApi, HttpError, type ArtifactView } from "../src/index.js";
import { createSession, HTTP_URL, token } from "./helpers.js";

/** A PNG's signature and header chunk: all the server reads to judge it and take its size. */
function pngHeader(width: number, height: number): Uint8Array {
  const bytes = new Uint8Array(33);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const view = new DataView(bytes.buffer);
  view.setUint32(16, width);
  view.setUint32(20, height);
  bytes.set([8, 6, 0, 0, 0], 24);
  return bytes;
}

async function settled(artifacts: Artifacts, sessionId: string, artifactId: string): Promise<ArtifactView> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const found = (await artifacts.list(sessionId)).items.find((a) => a.artifactId === artifactId);
    assert.ok(found, "listed");
    if (found.status !== "pending" || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("artifacts", () => {
  it("upload with the form, completed by storage, shared, and downloaded by a listener", async () => {
    const session = await createSession("alice");
    const owner = new Artifacts(new HttpApi({ httpUrl: HTTP_URL, token: token("alice") }));
    const listener = new Artifacts(new HttpApi({ httpUrl: HTTP_URL }));
    const slide = pngHeader(48, 27);

    const created = await owner.create(session.sessionId, { kind: "image", contentType: "image/png", fileName: "slide.png" });
    assert.equal(created.artifact.status, "pending");
    await owner.upload(created, slide);
    const id = created.artifact.artifactId;
    const done = await settled(owner, session.sessionId, id);
    assert.deepEqual([done.status, done["sizeBytes"], done["width"], done["height"]], ["completed", slide.length, 48, 27]);

    assert.deepEqual((await listener.list(session.sessionId, { shared: true })).items, []);
    await assert.rejects(listener.download(session.sessionId, id), (error: HttpError) => error.status === 404);
    assert.equal((await owner.update(session.sessionId, id, { shared: true }))["shared"], true);
    const shared = (await listener.list(session.sessionId, { shared: true })).items;
    assert.deepEqual(
      shared.map((a) => a.artifactId),
      [id],
    );
    assert.deepEqual(await listener.download(session.sessionId, id), slide);

    await owner.delete(session.sessionId, id);
    assert.deepEqual((await owner.list(session.sessionId)).items, []);
  });

  it("a form the policy refuses is UPLOAD_REFUSED; the owner deletes the session's data", async () => {
    const session = await createSession("alice");
    const owner = new Artifacts(new HttpApi({ httpUrl: HTTP_URL, token: token("alice") }));
    const body = { kind: "image", contentType: "image/png", fileName: "a.png", sizeBytes: 4 };
    const created = await owner.create(session.sessionId, body);
    await assert.rejects(owner.upload(created, pngHeader(1, 1)), (error: HttpError) => error.code === "UPLOAD_REFUSED");
    await owner.deleteSessionData(session.sessionId);
    await assert.rejects(owner.list(session.sessionId), (error: HttpError) => error.code === "SESSION_NOT_FOUND");
  });
});
