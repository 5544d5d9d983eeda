/**
 * One side of the console: a LiveSession (listener, or speaker with the owner's token) with its join form,
 * state badge and events table. Everything it learns of the session goes to the shared SessionPanel.
 */

import { checkName, HttpApi, LiveSession, SESSION_ID_PATTERN, ValidationError, type SessionView } from "../src/index.js";
import { $, hint, whileBusy } from "./dom.js";
import { EventsTable, eventRow, refusalRow, dataText } from "./events-table.js";
import type { SessionPanel } from "./session-panel.js";

export interface PaneContext {
  urls: () => { httpUrl: string; wsUrl: string };
  token: () => string | undefined;
  panel: SessionPanel;
  /** Called after anything that may change which controls apply (state, session view). */
  changed: () => void;
  /** Called when an artifact of the session changed (`artifactUpdated`): the artifacts list is read again. */
  artifactsChanged?: () => void;
  /** Called with each new connection the pane makes, before it connects (presence and reactions listen to it). */
  opened?: (pane: Pane, live: LiveSession) => void;
}

/** Why a session ID cannot be joined, before anything is sent (undefined: it can be tried). */
export function sessionIdProblem(sessionId: string): string | undefined {
  if (sessionId === "") return "enter a session ID to join";
  if (!SESSION_ID_PATTERN.test(sessionId)) return `"${sessionId}" is not a session ID (they look like quiet-river-482)`;
  return undefined;
}

/** Why a display name cannot be used (undefined: none given, or a good one). */
export function nameProblem(name: string): string | undefined {
  if (name === "") return undefined;
  try {
    checkName(name);
    return undefined;
  } catch (error) {
    return error instanceof ValidationError ? error.message.replace(/^VALIDATION_ERROR: /, "") : String(error);
  }
}

export class Pane {
  live: LiveSession | null = null;
  readonly root: HTMLElement;
  readonly table: EventsTable;
  private readonly joinForm: HTMLFormElement;
  private readonly badge: HTMLElement;

  constructor(
    readonly role: "listener" | "speaker",
    private readonly context: PaneContext,
  ) {
    this.root = $<HTMLElement>(`#${role}`);
    this.table = new EventsTable($<HTMLTableSectionElement>("tbody", this.root));
    this.joinForm = $<HTMLFormElement>(".join", this.root);
    this.badge = $<HTMLElement>(".state", this.root);
    this.joinForm.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.join();
    });
    $<HTMLButtonElement>(".leave", this.root).addEventListener("click", () => this.live?.close());
    this.channelPicker?.addEventListener("change", () => void this.switchChannel());
    this.sessionInput.addEventListener("input", () => hint(this.joinForm));
    this.sessionInput.addEventListener("change", () => void this.lookUp());
    this.refresh();
  }

  get sessionInput(): HTMLInputElement {
    return $<HTMLInputElement>(".session-id", this.root);
  }

  /** The channel to listen to (the listener's pane): joined with, and switched to while connected. */
  get channelPicker(): HTMLSelectElement | null {
    return this.joinForm.querySelector<HTMLSelectElement>("select.channel");
  }

  /** The session view, when this pane is joined (or was, until the session ended). */
  get view(): SessionView | null {
    return this.live?.session ?? null;
  }

  async join(): Promise<void> {
    const sessionId = this.sessionInput.value.trim();
    const name = this.joinForm.querySelector<HTMLInputElement>("input.name")?.value.trim() ?? "";
    const problem = sessionIdProblem(sessionId) ?? nameProblem(name);
    hint(this.joinForm, problem);
    if (problem) return;
    this.live?.close();
    const { httpUrl, wsUrl } = this.context.urls();
    const live = new LiveSession({
      httpUrl,
      wsUrl,
      sessionId,
      ...(this.channelPicker?.value ? { channel: this.channelPicker.value } : {}),
      ...(name ? { name } : {}),
      // A listener joins anonymously; the speaker pane sends the owner's token.
      ...(this.role === "speaker" ? { token: () => this.context.token() } : {}),
    });
    this.live = live;
    this.watch(live);
    this.context.opened?.(this, live);
    // A refusal is reported once, by the `state` event that carries it; the rejection repeats it.
    await whileBusy($<HTMLButtonElement>("button[type=submit]", this.joinForm), () => live.connect().catch(() => undefined), () => this.refresh());
  }

  /** Runs one of the speaker's actions; its answer shows as an event, a refusal as one problem row. */
  async act(what: string, button: HTMLButtonElement, run: (live: LiveSession) => Promise<unknown>): Promise<boolean> {
    const live = this.live;
    if (!live) return false;
    try {
      await whileBusy(button, () => run(live), () => this.context.changed());
      return true;
    } catch (error) {
      this.table.add(refusalRow(what, error));
      return false;
    }
  }

  /** A session ID typed in: its view (channels included, for the picker) shown before joining; a failure is
   * left to the join to report. */
  private async lookUp(): Promise<void> {
    const sessionId = this.sessionInput.value.trim();
    if (sessionIdProblem(sessionId)) return;
    try {
      this.context.panel.showView(await new HttpApi({ httpUrl: this.context.urls().httpUrl }).getSession(sessionId));
    } catch {
      // not there (yet): the join says why
    }
  }

  /** A channel picked while connected: `subscribe`, its answer shown as an event, a refusal as a problem row. */
  private async switchChannel(): Promise<void> {
    const live = this.live;
    const picker = this.channelPicker;
    if (!live || !picker || live.state !== "connected") return;
    picker.disabled = true;
    try {
      await live.subscribe(picker.value || null);
    } catch (error) {
      this.table.add(refusalRow("subscribe", error));
    } finally {
      picker.disabled = false;
      picker.value = live.channel ?? ""; // where the client is, whatever happened
    }
  }

  private watch(live: LiveSession): void {
    const { panel } = this.context;
    live.on("state", (change) => {
      if (this.live !== live) return;
      const retry = change.retryInMs !== undefined ? ` (next try in ${Math.round(change.retryInMs)} ms)` : "";
      const role = change.state === "connected" && live.role ? ` as ${live.role}` : "";
      const why = change.state === "closed" && change.reason && change.reason !== "client" ? ` (${change.reason})` : "";
      this.badge.textContent = `${change.state}${role}${retry}${why}`;
      this.badge.dataset["state"] = change.state;
      if (change.error) this.table.add(refusalRow(change.state === "closed" ? "join" : "connection", change.error));
      this.refresh();
    });
    live.on("event", (event) => {
      this.table.add(eventRow(event));
      if (event.type === "joined" || event.type === "sessionUpdated" || event.type === "sessionEnded") panel.showView(event.session);
      // The session stream's seq only: a frame naming a channel (its events, `subscribed`) counts in that channel's.
      if ("seq" in event && typeof event.seq === "number" && !("channel" in event)) panel.showSeq(live.sessionId, event.seq);
      if (event.type === "listenerCount") panel.showListenerCount(event.sessionId, event.listenerCount, event.channels);
      if (event.type === "subscribed" && this.channelPicker) this.channelPicker.value = event.channel ?? "";
      if (event.type === "artifactUpdated" || event.type === "joined") this.context.artifactsChanged?.();
      this.refresh();
    });
    live.on("reset", (reset) => {
      this.table.add({ type: "reset", summary: `${reset.reason}: the view starts again at seq ${reset.session.seq}`, raw: reset, problem: true });
      panel.showView(reset.session);
    });
    live.on("broadcast", (event) => {
      $<HTMLOutputElement>(".last output", this.root).textContent = dataText(event.data);
    });
  }

  private refresh(): void {
    $<HTMLButtonElement>(".leave", this.root).disabled = !this.live || this.live.state === "closed";
    this.context.changed();
  }
}
