/**
 * The console page in a real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core):
 *
 * - a copy of the console served from ANOTHER origin (a second local port) signs in, creates a session
 *   (a CORS preflight and POST against the HTTP API) and joins it as a listener;
 * - the console the local stack serves at /console/ joins the same session as the speaker and broadcasts;
 * - the listener page shows the broadcast, then the pause: asserted from its DOM, screenshots in test-artifacts/;
 * - a join to a session that does not exist shows SESSION_NOT_FOUND, though the browser saw only close 1006.
 */

import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { chromium, type BrowserContext, type Page } from "playwright-core";

import { HTTP_URL, token, WS_URL } from "./helpers.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CONSOLE_DIR = path.resolve(HERE, "../../dist/console"); // .test-build/test -> clients/js/dist/console
const ARTIFACTS = process.env["LIVE_SESSIONS_ARTIFACTS"] ?? path.resolve(HERE, "../../../../test-artifacts");
const CHROMIUM = process.env["CHROMIUM"] ?? "/usr/bin/chromium";
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The console's built files on their own origin: no config.json here, so the page takes the URL parameters. */
function serveElsewhere(): Promise<http.Server> {
  const types: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };
  const server = http.createServer((request, response) => {
    const name = path.basename(new URL(request.url ?? "/", "http://x").pathname) || "index.html";
    const type = types[path.extname(name)];
    if (!type) return void response.writeHead(404).end();
    readFile(path.join(CONSOLE_DIR, name)).then(
      (body) => response.writeHead(200, { "content-type": type }).end(body),
      () => response.writeHead(404).end(),
    );
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

const text = (page: Page, testId: string): Promise<string> => page.getByTestId(testId).innerText();

describe("the console in Chromium", () => {
  let profile: string;
  let context: BrowserContext;
  let elsewhere: http.Server;
  let elsewhereUrl: string;

  before(async () => {
    elsewhere = await serveElsewhere();
    elsewhereUrl = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
    profile = await mkdtemp(path.join(os.tmpdir(), "console-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1280, height: 900 },
    });
    context.setDefaultTimeout(10_000);
  });

  after(async () => {
    await context?.close();
    elsewhere?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  it("a listener on another origin receives the speaker's broadcast and shows it", async () => {
    assert.notEqual(new URL(elsewhereUrl).origin, new URL(HTTP_URL).origin);
    const alice = token("alice");

    // The listener's page, on its own origin: sign in, create a session (CORS), join it as a listener.
    const listener = await context.newPage();
    const problems: string[] = [];
    listener.on("pageerror", (error) => problems.push(String(error)));
    await listener.goto(`${elsewhereUrl}/index.html?${new URLSearchParams({ http: HTTP_URL, ws: WS_URL })}`);
    await listener.locator("body[data-ready=true]").waitFor();
    await listener.locator("#token").fill(alice);
    await listener.getByRole("button", { name: "Sign in" }).click();
    assert.equal(await text(listener, "who"), "signed in as alice");
    await listener.getByRole("button", { name: "Create session" }).click();
    await listener.getByTestId("created").filter({ hasText: /^[a-z]+-[a-z]+-\d{3}$/ }).waitFor();
    const sessionId = await text(listener, "created");
    await listener.getByRole("button", { name: "Join", exact: true }).click();
    await listener.getByTestId("listener-state").filter({ hasText: "connected" }).waitFor();

    // The speaker's page: the console the local stack serves, same origin as the API.
    const speaker = await context.newPage();
    await speaker.goto(`${HTTP_URL}/console/?${new URLSearchParams({ session: sessionId, token: alice })}`);
    await speaker.locator("body[data-ready=true]").waitFor();
    await speaker.getByRole("button", { name: "Join as speaker" }).click();
    await speaker.getByTestId("speaker-state").filter({ hasText: "connected" }).waitFor();
    await speaker.getByTestId("speaker-broadcast").fill("hello from the speaker");
    await speaker.getByRole("button", { name: "Broadcast" }).click();

    await listener.getByTestId("listener-last-broadcast").filter({ hasText: "hello from the speaker" }).waitFor();
    const log = await text(listener, "listener-log");
    assert.match(log, /broadcast \{"data":"hello from the speaker","ts":\d+,"seq":\d+\}/);
    assert.match(await text(speaker, "speaker-log"), /broadcastSent .*"delivered":1/);
    await speaker.getByRole("button", { name: "Pause" }).click();
    await listener.getByTestId("listener-log").filter({ hasText: /sessionUpdated .*"status":"paused"/ }).waitFor();
    await mkdir(ARTIFACTS, { recursive: true });
    await listener.screenshot({ path: path.join(ARTIFACTS, "console-listener.png"), fullPage: true });
    await speaker.screenshot({ path: path.join(ARTIFACTS, "console-speaker.png"), fullPage: true });
    assert.deepEqual(problems, []);
  });

  it("a refused join shows the contract's code, found out from GET /sessions/{id} across origins", async () => {
    const page = await context.newPage();
    const query = new URLSearchParams({ http: HTTP_URL, ws: WS_URL, session: "nope-nope-000", join: "listener" });
    await page.goto(`${elsewhereUrl}/index.html?${query}`);
    await page.getByTestId("listener-log").filter({ hasText: "SESSION_NOT_FOUND" }).waitFor();
    assert.equal(await text(page, "listener-state"), "closed");
  });
});
