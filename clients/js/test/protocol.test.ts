/**
 * The client's declared protocol (src/protocol.ts: ACTIONS, EVENTS and their optional fields, SESSION_VIEW_FIELDS) against the
 * AsyncAPI document the server generates from its own frame and event models (`GET /asyncapi.json`).
 * The compiler already ties each declared field to the client's TypeScript types; this ties the
 * declaration to the server: a message renamed, added or dropped, or a required field changed on either
 * side, or an optional field one side sends or reads that the other does not know (`sinceSeq`, `recovered`), fails here.
 */

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";

import {
  AHEAD_OF_SERVER,
  ACTION_OPTIONAL,
  ACTIONS,
  EVENT_OPTIONAL,
  EVENTS,
  FATAL_REFUSALS,
  SESSION_VIEW_FIELDS,
  V2_FRAMES,
  V2_OPTIONAL,
} from "../src/index.js";
import { HTTP_URL } from "./helpers.js";

interface Schema {
  $ref?: string;
  properties?: Record<string, Schema & { const?: unknown; default?: unknown; enum?: unknown[] }>;
  required?: string[];
}

interface Document {
  asyncapi: string;
  channels: Record<
    string,
    { messages: Record<string, { payload: Schema }>; "x-handshake"?: { refusals: { status: number; code: string }[] } }
  >;
  components: { schemas: Record<string, Schema> };
}

let doc: Document;

function resolve(schema: Schema): Schema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace("#/components/schemas/", "");
  const found = doc.components.schemas[name];
  assert.ok(found, `the document's ${schema.$ref} resolves`);
  return found;
}

interface Fields {
  required: string[];
  optional: string[];
}

/** Each message payload's discriminating value (`action` of a frame, `type` of an event) -> its fields. */
function declared(field: "action" | "type"): Map<string, Fields> {
  const found = new Map<string, Fields>();
  for (const channel of Object.values(doc.channels)) {
    for (const message of Object.values(channel.messages)) {
      const schema = resolve(message.payload);
      const property = schema.properties?.[field];
      if (!property) continue;
      const name = property.const ?? property.enum?.[0] ?? property.default;
      assert.equal(typeof name, "string", `a ${field} names its message`);
      const required = [...(schema.required ?? [])].sort();
      const optional = Object.keys(schema.properties ?? {}).filter((name) => !required.includes(name));
      found.set(name as string, { required, optional: optional.sort() });
    }
  }
  return found;
}

const sorted = (fields: readonly string[]): string[] => [...fields].sort();

/** Ours, less what this client declares ahead of the server (AHEAD_OF_SERVER) and the server does not have yet. */
function knownToServer(server: Map<string, Fields>, names: readonly string[]): string[] {
  return names.filter((name) => server.has(name) || !AHEAD_OF_SERVER.has(name));
}

/** A message's optional fields, less the ones declared ahead of the server that it does not list yet. */
function optionalKnownToServer(kind: string, optional: readonly string[], server: Fields | undefined): string[] {
  return optional.filter((field) => server?.optional.includes(field) || !AHEAD_OF_SERVER.has(`${kind}.${field}`));
}

describe("the client's protocol matches GET /asyncapi.json", () => {
  before(async () => {
    const response = await fetch(`${HTTP_URL}/asyncapi.json`);
    assert.equal(response.status, 200, "the server serves its AsyncAPI document");
    doc = (await response.json()) as Document;
    assert.match(doc.asyncapi, /^3\./);
  });

  it("the same actions, each with the same required and optional fields", () => {
    const server = declared("action");
    const ours = knownToServer(server, Object.keys(ACTIONS));
    assert.deepEqual(sorted([...server.keys()]), sorted(ours));
    for (const action of ours) {
      const required = ACTIONS[action as keyof typeof ACTIONS];
      const optional = optionalKnownToServer(action, ACTION_OPTIONAL[action as keyof typeof ACTION_OPTIONAL], server.get(action));
      assert.deepEqual(server.get(action), { required: sorted(required), optional: sorted(optional) }, action);
    }
  });

  // Protocol v2 (`batch`, `joined.missing`) is declared by the client ahead of the server: each addition is
  // held to the server's declaration once the server declares it, and may be absent until then.
  it("the same events, each with the same required and optional fields (v2 additions once the server has them)", () => {
    const server = declared("type");
    const v2Frames = Object.keys(V2_FRAMES).filter((type) => server.has(type));
    const ours = knownToServer(server, Object.keys(EVENTS));
    assert.deepEqual(sorted([...server.keys()]), sorted([...ours, ...v2Frames]));
    for (const type of ours) {
      const required = EVENTS[type as keyof typeof EVENTS];
      const v2 = (V2_OPTIONAL as Record<string, readonly string[]>)[type] ?? [];
      const optional = [...EVENT_OPTIONAL[type as keyof typeof EVENT_OPTIONAL], ...v2.filter((field) => server.get(type)?.optional.includes(field))];
      assert.deepEqual(server.get(type), { required: sorted(required), optional: sorted(optional) }, type);
    }
    for (const type of v2Frames) assert.deepEqual(server.get(type)?.required, sorted(V2_FRAMES[type as keyof typeof V2_FRAMES]), type);
  });

  it("the handshake refusals the client stops on are exactly the 400, 403, 404 and 410 ones", () => {
    const refusals = Object.values(doc.channels).flatMap((channel) => channel["x-handshake"]?.refusals ?? []);
    assert.ok(refusals.length > 0, "the document lists the refused handshakes");
    const final = refusals.filter((refusal) => [400, 403, 404, 410].includes(refusal.status)).map((refusal) => refusal.code);
    assert.deepEqual(sorted([...new Set(final)]), sorted([...FATAL_REFUSALS]));
  });

  it("the session view carries what resume and refusal reasons read (seq, epoch, maxListeners)", () => {
    const joined = [...Object.values(doc.channels)]
      .flatMap((channel) => Object.values(channel.messages))
      .map((message) => resolve(message.payload))
      .find((schema) => schema.properties?.["type"]?.default === "joined" || schema.properties?.["type"]?.const === "joined");
    const session = joined?.properties?.["session"];
    assert.ok(session, "joined has a session");
    assert.deepEqual(sorted(resolve(session).required ?? []), sorted(SESSION_VIEW_FIELDS));
  });
});
