/**
 * Reactions in the console: the speaker's board (each aggregated `reactions` notice as it comes, and the totals
 * since the pane joined) and the listener's buttons (fire-and-forget `react`: a reaction made while not
 * connected is dropped, and the pane says so, never queued).
 */

import type { LiveSession, ReactionsEvent } from "../src/index.js";
import { $, element, hint } from "./dom.js";

export class ReactionsBoard {
  private readonly totals = new Map<string, number>();
  private readonly tally: HTMLElement;
  private readonly latest: HTMLOutputElement;

  constructor(root: HTMLElement) {
    this.tally = $<HTMLElement>(".tally", root);
    this.latest = $<HTMLOutputElement>("output", root);
  }

  clear(): void {
    this.totals.clear();
    this.tally.replaceChildren();
    this.latest.textContent = "";
  }

  add(event: ReactionsEvent): void {
    for (const [reaction, count] of Object.entries(event.counts)) this.totals.set(reaction, (this.totals.get(reaction) ?? 0) + count);
    this.latest.textContent = `${countsText(event.counts)} (${Math.max(0, event.to - event.from)} ms)`;
    const chips = [...this.totals].sort((a, b) => b[1] - a[1]).map(([reaction, count]) => element("span", { className: "chip", text: `${reaction} ${count}` }));
    this.tally.replaceChildren(...chips);
  }
}

/** `{"👏": 3, "clap": 1}` as `👏 3 · clap 1`. */
export function countsText(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([reaction, count]) => `${reaction} ${count}`)
    .join(" · ");
}

/** The listener's reaction buttons (`data-reaction`): each sends its reaction on the pane's current connection. */
export function wireReactButtons(root: HTMLElement, live: () => LiveSession | null): void {
  const holder = $<HTMLElement>(".react", root);
  for (const button of holder.querySelectorAll<HTMLButtonElement>("button[data-reaction]")) {
    button.addEventListener("click", () => {
      const sent = live()?.react(button.dataset["reaction"] ?? "") ?? false;
      hint(holder, sent ? "" : "not connected: the reaction was dropped (reactions are never queued)");
    });
  }
}
