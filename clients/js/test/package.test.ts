/**
 * What an app installs: no runtime dependency (the package's `dependencies` is empty, the browser bundle
 * imports nothing), and the browser bundle is the same client the Node tests run.
 */

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { it } from "node:test";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../.."); // .test-build/test -> clients/js

it("has no runtime dependency, and its browser bundle imports nothing", async () => {
  const manifest = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as Record<string, unknown>;
  assert.equal(manifest["dependencies"], undefined);
  assert.equal(manifest["type"], "module");
  const bundle = await readFile(path.join(ROOT, "dist/browser/live-sessions.js"), "utf8");
  assert.doesNotMatch(bundle, /^\s*import\s|\brequire\(/m);
  const browser = (await import(path.join(ROOT, "dist/browser/live-sessions.js"))) as Record<string, unknown>;
  for (const name of ["LiveSession", "HttpApi", "RefusedError", "ACTIONS", "EVENTS"]) assert.ok(browser[name], name);
});
