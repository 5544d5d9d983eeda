/**
 * A pane's events as a table, newest first: `seq`, type (with a one-line summary), channel and time, and
 * each row's raw JSON on demand. Refusals (an action's `error` answer, a refused join) are rows too, marked
 * as problems, one row per refusal.
 */

import { ActionError, HttpError, LiveSessionError, RefusedError, type PresenceChangedEvent, type ServerEvent } from "../src/index.js";
import { element } from "./dom.js";
import { countsText } from "./reactions.js";

export interface Row {
  type: string;
  summary: string;
  raw: unknown;
  seq?: number;
  channel?: string;
  problem?: boolean;
}

/** The newest rows kept: a debugging console left open must not grow without bound. */
const MAX_ROWS = 500;

export class EventsTable {
  constructor(private readonly body: HTMLTableSectionElement) {}

  add(row: Row): void {
    const toggle = element("button", { className: "raw-toggle", text: "{ }", title: "show the raw JSON" });
    toggle.type = "button";
    toggle.setAttribute("aria-expanded", "false");
    const line = element(
      "tr",
      { className: row.problem ? "problem" : "" },
      element("td", { className: "seq", text: row.seq === undefined ? "—" : String(row.seq) }),
      element(
        "td",
        { className: "type" },
        element("span", { className: "name", text: row.type }),
        element("span", { className: "summary", text: row.summary }),
      ),
      element("td", { className: "channel", text: row.channel ?? "—" }),
      clockCell(new Date()),
      element("td", { className: "raw" }, toggle),
    );
    line.dataset["type"] = row.type;
    const rawLine = element("tr", { className: "raw-json" }, element("td", {}, element("pre", { text: pretty(row.raw) })));
    (rawLine.firstElementChild as HTMLTableCellElement).colSpan = 5;
    rawLine.hidden = true;
    toggle.addEventListener("click", () => {
      rawLine.hidden = !rawLine.hidden;
      toggle.setAttribute("aria-expanded", String(!rawLine.hidden));
    });
    this.body.prepend(line, rawLine);
    while (this.body.rows.length > MAX_ROWS * 2) this.body.lastElementChild?.remove();
  }

  clear(): void {
    this.body.replaceChildren();
  }
}

/** A server frame as a row. */
export function eventRow(event: ServerEvent): Row {
  const seq = "seq" in event && typeof event.seq === "number" ? event.seq : undefined;
  const channel = "channel" in event && typeof event.channel === "string" ? event.channel : undefined;
  return {
    type: event.type,
    summary: summarize(event),
    raw: event,
    problem: event.type === "error",
    ...(seq !== undefined ? { seq } : {}),
    ...(channel !== undefined ? { channel } : {}),
  };
}

/** A refusal (or any failure) of `what` as one readable row: the contract's code, the field at fault. */
export function refusalRow(what: string, error: unknown): Row {
  if (error instanceof ActionError) {
    const field = error.field ? ` (field ${error.field})` : "";
    return { type: "refused", summary: `${what}: ${error.message}${field}`, raw: error.frame, problem: true };
  }
  if (error instanceof LiveSessionError) {
    const status = error instanceof RefusedError || error instanceof HttpError ? error.status : undefined;
    const raw = { code: error.code, message: error.message, ...(status !== undefined ? { status } : {}) };
    return { type: "refused", summary: `${what}: ${error.message}`, raw, problem: true };
  }
  return { type: "failed", summary: `${what}: ${String(error)}`, raw: { error: String(error) }, problem: true };
}

export function dataText(data: unknown): string {
  return typeof data === "string" ? data : JSON.stringify(data);
}

function summarize(event: ServerEvent): string {
  switch (event.type) {
    case "broadcast":
      return dataText(event.data);
    case "message":
      return event.text;
    case "sessionUpdated":
    case "sessionEnded":
      return `${event.session.status}${event.session.muted ? ", muted" : ""}`;
    case "joined":
      return `as ${event.role}${event.recovered === undefined ? "" : event.recovered ? ", recovered" : ", not recovered"}`;
    case "broadcastSent":
      return `delivered to ${event.delivered}`;
    case "listenerCount":
      return `${event.listenerCount} listening${event.channels ? ` (${Object.entries(event.channels).map((entry) => entry.join(" ")).join(", ")})` : ""}`;
    case "subscribed":
      return event.channel === null ? "on no channel" : `on ${event.channel}, after its seq ${event.seq}`;
    case "history":
      return `${event.items.length} messages`;
    case "artifactUpdated":
      return `${event.artifact.artifactId} ${event.artifact.status}`;
    case "speakerDisconnected":
      return "the speaker left";
    case "error":
      return `${event.code}: ${event.message}${event.field ? ` (field ${event.field})` : ""}`;
    case "presence":
      return `${event.members.length} of ${event.count} members${event.nextCursor ? ", more" : ""}`;
    case "presenceChanged":
      return presenceChangedText(event);
    case "presenceSet":
      return `data ${dataText(event.member.data ?? null)}`;
    case "reactions":
      return countsText(event.counts);
    case "reacted":
      return event.reaction;
    case "kicked":
      return `${event.connectionId} removed${event.banned ? " and banned" : ""}`;
    default:
      return ""; // pong, and any frame newer than this page: its raw JSON says it all
  }
}

function presenceChangedText(event: PresenceChangedEvent): string {
  const count = `${event.count} connected`;
  if (!event.joined && !event.left && !event.updated) return `${count} (counts only)`;
  const changes = [`+${event.joined?.length ?? 0}`, `-${event.left?.length ?? 0}`, `~${event.updated?.length ?? 0}`];
  return `${changes.join(" ")}, ${count}`;
}

function pretty(raw: unknown): string {
  return JSON.stringify(raw, null, 2);
}

/** When the row was added, to the millisecond (a narrow window hides the milliseconds). */
function clockCell(at: Date): HTMLTableCellElement {
  const pad = (n: number, width = 2): string => String(n).padStart(width, "0");
  return element(
    "td",
    { className: "time", title: at.toISOString() },
    document.createTextNode(`${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`),
    element("span", { className: "ms", text: `.${pad(at.getMilliseconds(), 3)}` }),
  );
}
