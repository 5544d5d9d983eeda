/**
 * The console's channels: every channel picker on the page (`select.channel`: the listener's channel, the
 * speaker's broadcast target) offers the channels of the session on show, and the session panel shows how many
 * listeners each one has (from the view, then each `listenerCount` the speaker gets).
 */

import type { ChannelCount } from "../src/index.js";

/** "es 2 · fr 0", or "none" for a session without channels. */
export function channelCountsText(channels: readonly ChannelCount[]): string {
  return channels.length === 0 ? "none" : channels.map((channel) => `${channel.name} ${channel.listenerCount}`).join(" · ");
}

/** The view's channels with the counts a `listenerCount` frame carries (`channels: {name: count}`). */
export function withCounts(channels: readonly ChannelCount[], counts: Readonly<Record<string, number>> | undefined): ChannelCount[] {
  return channels.map((channel) => ({ ...channel, listenerCount: counts?.[channel.name] ?? channel.listenerCount }));
}

/** Fills every picker with `names` after its first option (none / everyone), keeping a choice still offered. */
export function offerChannels(names: readonly string[], root: ParentNode = document): void {
  for (const picker of root.querySelectorAll<HTMLSelectElement>("select.channel")) {
    const chosen = picker.value;
    const first = picker.options[0];
    picker.replaceChildren(...(first ? [first] : []), ...names.map((name) => new Option(name, name)));
    picker.value = names.includes(chosen) ? chosen : "";
  }
}

/** A comma- or space-separated list of channel names, as typed ("es, fr"). */
export function parseChannels(text: string): string[] {
  return text.split(/[\s,]+/).filter((name) => name !== "");
}
