/**
 * The client's declared protocol (src/protocol.ts: ACTIONS, EVENTS, SESSION_VIEW_FIELDS) against the
 * AsyncAPI document the server generates from its own frame and event models (`GET /asyncapi.json`).
 * The compiler already ties each declared field to the client's TypeScript types; this ties the
 * declaration to the server: a message renamed, added or dropped, or a required field changed on either
 * side, fails here.
 */

import assert from "node:assert/strict";
import { before, describe, it } from "node:test";

import { ACTIONS, EVENTS, SESSION_VIEW_FIELDS } from "../src/index.js";
import { HTTP_URL } from "./helpers.js";

interface Schema {
  $ref?: string;
  properties?: Record<string, Schema & { const?: unknown; default?: unknown; enum?: unknown[] }>;
  required?: string[];
}

interface Document {
  asyncapi: string;
  channels: Record<string, { messages: Record<string, { payload: Schema }> }>;
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

/** Each message payload's discriminating value (`action` of a frame, `type` of an event) -> its required fields. */
function declared(field: "action" | "type"): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const channel of Object.values(doc.channels)) {
    for (const message of Object.values(channel.messages)) {
      const schema = resolve(message.payload);
      const property = schema.properties?.[field];
      if (!property) continue;
      const name = property.const ?? property.enum?.[0] ?? property.default;
      assert.equal(typeof name, "string", `a ${field} names its message`);
      found.set(name as string, [...(schema.required ?? [])].sort());
    }
  }
  return found;
}

const sorted = (fields: readonly string[]): string[] => [...fields].sort();

describe("the client's protocol matches GET /asyncapi.json", () => {
  before(async () => {
    const response = await fetch(`${HTTP_URL}/asyncapi.json`);
    assert.equal(response.status, 200, "the server serves its AsyncAPI document");
    doc = (await response.json()) as Document;
    assert.match(doc.asyncapi, /^3\./);
  });

  it("the same actions, each with the same required fields", () => {
    const server = declared("action");
    assert.deepEqual(sorted([...server.keys()]), sorted(Object.keys(ACTIONS)));
    for (const [action, fields] of Object.entries(ACTIONS)) assert.deepEqual(server.get(action), sorted(fields), action);
  });

  it("the same events, each with the same required fields", () => {
    const server = declared("type");
    assert.deepEqual(sorted([...server.keys()]), sorted(Object.keys(EVENTS)));
    for (const [type, fields] of Object.entries(EVENTS)) assert.deepEqual(server.get(type), sorted(fields), type);
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
