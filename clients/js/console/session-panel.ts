/**
 * What the console knows of the session on show: its status, `seq`, epoch and counts (from the latest
 * view either pane got: `joined`, `sessionUpdated`, `sessionEnded`, a reset, the create answer, and each
 * stream event's `seq`), and who is connected.
 *
 * Who is connected: until the server has a presence action, the only truth is the listener count (the
 * session view's, then each `listenerCount` frame the speaker gets). The panel says so; it never invents
 * members.
 */

import type { SessionView } from "../src/index.js";
import { channelCountsText, offerChannels, withCounts } from "./channels.js";
import { $ } from "./dom.js";

type Shown = Pick<SessionView, "sessionId" | "title" | "status" | "seq" | "epoch" | "listenerCount" | "maxListeners" | "muted" | "channels">;

export class SessionPanel {
  private shown: Shown | null = null;

  constructor(
    private readonly panel: HTMLElement,
    private readonly presence: HTMLElement,
  ) {}

  get sessionId(): string | undefined {
    return this.shown?.sessionId;
  }

  /** A whole view: another session's replaces what is shown. */
  showView(view: SessionView): void {
    const seq = this.shown?.sessionId === view.sessionId && view.epoch === this.shown.epoch ? Math.max(this.shown.seq, view.seq) : view.seq;
    const names = (shown: Shown | null): string => (shown?.channels ?? []).map((channel) => channel.name).join();
    const offered = names(this.shown) !== names(view) || this.shown?.sessionId !== view.sessionId;
    this.shown = { ...view, seq, channels: view.channels ?? [] };
    if (offered) offerChannels(this.shown.channels.map((channel) => channel.name));
    this.render();
  }

  /** A stream event's `seq` (views are not re-sent for broadcasts and messages). */
  showSeq(sessionId: string, seq: number): void {
    if (this.shown?.sessionId !== sessionId || seq <= this.shown.seq) return;
    this.shown = { ...this.shown, seq };
    this.render();
  }

  showListenerCount(sessionId: string, listenerCount: number, channels?: Record<string, number>): void {
    if (this.shown?.sessionId !== sessionId) return;
    this.shown = { ...this.shown, listenerCount, channels: withCounts(this.shown.channels, channels) };
    this.render();
  }

  private render(): void {
    const shown = this.shown;
    if (!shown) return;
    const fields: Record<string, string> = {
      session: shown.sessionId,
      title: shown.title || "(no title)",
      status: shown.muted ? `${shown.status}, muted` : shown.status,
      seq: String(shown.seq),
      epoch: shown.epoch,
      listeners: `${shown.listenerCount} of ${shown.maxListeners}`,
      channels: channelCountsText(shown.channels),
    };
    for (const [name, value] of Object.entries(fields)) $<HTMLElement>(`[data-field="${name}"]`, this.panel).textContent = value;
    this.panel.dataset["status"] = shown.status;
    const listening = shown.listenerCount === 1 ? "1 listener" : `${shown.listenerCount} listeners`;
    $<HTMLElement>("[data-field=count]", this.presence).textContent = `${listening} connected`;
  }
}
