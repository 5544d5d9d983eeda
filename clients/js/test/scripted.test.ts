/**
 * This client against the scripted-server table both clients run (tests/clients/scripted_cases.json, owned
 * by the Python client's tests; the rules in clients/PROTOCOL_NOTES.md): order, gaps, duplicates, resets,
 * refusals, batch, missing, CONNECTION_NOT_FOUND, the integration error, the frame limit. The same cases,
 * the same expectations as tests/clients/test_python_scripted.py, so the two clients keep one behaviour.
 */

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import WebSocket from "ws";

import { isChannelEvent, isStreamEvent, LiveSession, LiveSessionError, type StateChange, type WebSocketConstructor } from "../src/index.js";
import { ScriptedServer, type Call, type Case, type Table } from "./scripted-server.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../.."); // .test-build/test -> clients/js
const TABLE_FILE = process.env["LIVE_SESSIONS_SCRIPTED_CASES"] ?? path.join(ROOT, "../../tests/clients/scripted_cases.json");
const SAFETY_TIMEOUT_MS = 20_000; // a case that never reaches its end fails here instead of hanging the suite

interface AppSaw {
  /** Seqs of the session stream; "es:n" for seq n of channel es's stream. */
  delivered: (number | string)[];
  resets: number;
  closed: string | null;
  closedByItself: boolean;
  states: StateChange[];
  /** The error codes the state changes carried, until the case ended. */
  stateErrors: string[];
  calls: { spec: Call; outcome: "raised" | "returned"; value: unknown }[];
  /** The frames given to the app that are not stream events, nor answers to its calls (nor `joined`). */
  pushed: Record<string, unknown>[];
}

/** A string token, or a provider giving each of a list in turn (then the last again). */
function tokenSource(spec: string | string[] | undefined): string | (() => Promise<string>) | undefined {
  if (!Array.isArray(spec)) return spec;
  let given = 0;
  return async () => spec[Math.min(given++, spec.length - 1)] ?? "";
}

const argument = (spec: unknown): unknown =>
  typeof spec === "object" && spec !== null && "$bytes" in spec ? "x".repeat(Number(spec.$bytes)) : spec;

/** The table names calls as the Python client does (`send_message`); this client's are camelCase. */
const methodName = (call: string): string => call.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());

/** A call's arguments: the positional ones, then Python's keyword arguments as one options object. */
function callArguments(spec: Call): unknown[] {
  const args = (spec.args ?? []).map(argument);
  if (!spec.kwargs) return args;
  return [...args, Object.fromEntries(Object.entries(spec.kwargs).map(([name, value]) => [methodName(name), argument(value)]))];
}

/** What a call gives: its answer, or for an async iterator (`collect`) how many items it yielded. */
async function outcomeOf(spec: Call, result: unknown): Promise<unknown> {
  if (!spec.collect) return await result;
  let items = 0;
  for await (const _ of result as AsyncIterable<unknown>) items += 1;
  return { items };
}

async function runCase(table: Table, scripted: Case): Promise<{ server: ScriptedServer; saw: AppSaw }> {
  const server = new ScriptedServer(table, scripted.server);
  const address = await server.listen();
  const options = table.clientOptions;
  const backoff = { initialMs: options.backoffInitialMs, maxMs: options.backoffMaxMs };
  const token = tokenSource(scripted.app?.token);
  const live = new LiveSession({
    wsUrl: `ws://${address}`,
    httpUrl: `http://${address}`,
    sessionId: String(table.session["sessionId"]),
    ...(token !== undefined ? { token } : {}),
    ...(scripted.app?.channel !== undefined ? { channel: scripted.app.channel } : {}),
    ...(scripted.app?.name !== undefined ? { name: scripted.app.name } : {}),
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    backoff,
    fullBackoff: { initialMs: options.fullBackoffInitialMs, maxMs: options.fullBackoffMaxMs },
    gapTimeoutMs: options.gapTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs,
    keepaliveMs: 3_600_000,
  });
  const saw: AppSaw = { delivered: [], resets: 0, closed: null, closedByItself: false, states: [], stateErrors: [], calls: [], pushed: [] };
  live.on("event", (event) => {
    if (isStreamEvent(event)) saw.delivered.push(isChannelEvent(event) ? `${event.channel}:${event.seq}` : event.seq);
    // Python hands answers to their caller only; this client also emits them as events: not pushed frames.
    else if (event.type !== "joined" && !("id" in event && typeof event.id === "string")) saw.pushed.push(event as unknown as Record<string, unknown>);
  });
  live.on("reset", () => (saw.resets += 1));
  live.on("state", (change) => {
    saw.states.push(change);
    if (change.state === "closed") saw.closed = change.reason ?? "client";
  });
  const expect = scripted.expect;
  const finished = (): boolean =>
    "closed" in expect ? saw.closed !== null : saw.delivered.length >= ((expect["delivered"] as number[] | undefined)?.length ?? 0) && server.done;
  const call = async (spec: Call): Promise<void> => {
    const method = (live as unknown as Record<string, (...args: unknown[]) => unknown>)[methodName(spec.call)];
    assert.ok(method, `LiveSession has ${methodName(spec.call)}`);
    try {
      saw.calls.push({ spec, outcome: "returned", value: await outcomeOf(spec, method.apply(live, callArguments(spec))) });
    } catch (error) {
      saw.calls.push({ spec, outcome: "raised", value: error instanceof LiveSessionError ? error.code : String(error) });
    }
  };
  const play = async (): Promise<void> => {
    const joined = await live.connect().then(
      () => true,
      () => false, // the `closed` state says why
    );
    if (joined) await Promise.all((scripted.app?.calls ?? []).map(call));
    while (!finished()) await new Promise((resolve) => setTimeout(resolve, 10));
    saw.closedByItself = saw.closed !== null;
    saw.stateErrors = saw.states.flatMap((change) => (change.error ? [change.error.code] : []));
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stuck = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the case did not finish in ${SAFETY_TIMEOUT_MS} ms: ${JSON.stringify(saw)}`)), SAFETY_TIMEOUT_MS);
  });
  try {
    await Promise.race([play(), stuck]);
  } finally {
    clearTimeout(timer);
    live.close();
    await server.close();
  }
  return { server, saw };
}

function check(scripted: Case, server: ScriptedServer, saw: AppSaw): void {
  const expect = scripted.expect;
  assert.deepEqual(server.problems, []);
  if ("delivered" in expect) assert.deepEqual(saw.delivered, expect["delivered"]);
  assert.equal(saw.resets, expect["resets"] ?? 0, "resets");
  if ("closed" in expect) assert.equal(saw.closed, expect["closed"]);
  else assert.ok(!saw.closedByItself, `the client closed: ${saw.closed} (${JSON.stringify(saw.states.at(-1))})`);
  if ("handshakes" in expect) assert.equal(server.queries.length, expect["handshakes"], "handshakes");
  for (const [name, value] of Object.entries((expect["query"] as Record<string, string> | undefined) ?? {})) {
    assert.equal(server.queries[0]?.[name], value, name);
  }
  if ("tokens" in expect) assert.deepEqual(server.queries.map((query) => query["token"] ?? null), expect["tokens"]);
  if ("minRetryDelay" in expect) {
    const first = saw.states.find((change) => change.retryInMs !== undefined);
    assert.ok((first?.retryInMs ?? 0) >= Number(expect["minRetryDelay"]) * 1000, `first retry after ${first?.retryInMs} ms`);
  }
  for (const [action, count] of Object.entries((expect["sent"] as Record<string, number> | undefined) ?? {})) {
    assert.equal(server.sent.get(action) ?? 0, count, `${action} sent`);
  }
  for (const { spec, outcome, value } of saw.calls) {
    if (spec.raises !== undefined) assert.deepEqual([outcome, value], ["raised", spec.raises], spec.call);
    else if (typeof spec.returns !== "object") assert.deepEqual([outcome, value], ["returned", spec.returns], spec.call);
    else {
      assert.equal(outcome, "returned", `${spec.call}: ${String(value)}`);
      for (const [name, field] of Object.entries(spec.returns ?? {})) assert.deepEqual((value as Record<string, unknown>)[name], field, `${spec.call}.${name}`);
    }
  }
  assert.equal(saw.calls.length, scripted.app?.calls?.length ?? 0, "every call settled");
  if ("stateErrors" in expect) assert.deepEqual(saw.stateErrors, expect["stateErrors"], JSON.stringify(saw.states));
  const pushed = expect["pushed"] as Record<string, unknown>[] | undefined;
  if (pushed) {
    assert.equal(saw.pushed.length, pushed.length, JSON.stringify(saw.pushed));
    pushed.forEach((fields, index) => {
      for (const [name, value] of Object.entries(fields)) assert.deepEqual(saw.pushed[index]?.[name], value, `pushed[${index}].${name}`);
    });
  }
}

describe("a refused handshake in Node (ws shows its HTTP answer)", () => {
  it("is read from the answer itself: its code, its Retry-After, no lookup", async () => {
    const inline: Table = {
      session: { sessionId: "quiet-river-482", title: "", status: "active", listenerCount: 0, muted: false, createdAt: 1, seq: 0, epoch: "e1", maxListeners: 10 },
      clientOptions: {
        gapTimeoutMs: 50,
        backoffInitialMs: 10,
        backoffMaxMs: 50,
        fullBackoffInitialMs: 10,
        fullBackoffMaxMs: 50,
        requestTimeoutMs: 5000,
      },
      cases: [],
    };
    const scripted: Case = {
      name: "inline",
      server: [{ handshake: 429, code: "RATE_LIMITED", retryAfter: 1 }, { handshake: 101, steps: [{ join: {} }, { push: [1] }] }],
      expect: { delivered: [1], handshakes: 2, minRetryDelay: 1 },
    };
    const { server, saw } = await runCase(inline, scripted);
    check(scripted, server, saw);
    assert.equal(saw.states.find((change) => change.error)?.error?.code, "RATE_LIMITED");
    assert.equal(server.lookups, 0);
  });
});

const table: Table | null = existsSync(TABLE_FILE) ? (JSON.parse(readFileSync(TABLE_FILE, "utf8")) as Table) : null;

describe("the scripted-server table both clients run", () => {
  if (!table) {
    it("needs tests/clients/scripted_cases.json", { skip: `${TABLE_FILE} is not there (the Python client's tests own it)` }, () => undefined);
    return;
  }
  for (const scripted of table.cases) {
    it(scripted.name, async () => {
      const { server, saw } = await runCase(table, scripted);
      check(scripted, server, saw);
    });
  }
});
