/**
 * Channels (the contract's "Channels: tracks inside a session"): a connection is on at most one channel and
 * then follows two streams, the session's (session-wide events) and its channel's own gap-free stream (that
 * channel's events only, each carrying `channel` and its seq there). `ChannelTrack` is the second one: which
 * channel the client is on, its own StreamOrderer, and the switch.
 *
 * - `joined.channelStream` and `subscribed` give the channel stream's position: the baseline after which every
 *   event of that channel comes;
 * - a switch (`subscribe`) forgets the old channel: an event of it still in flight is dropped; an event of the
 *   new channel that overtakes the `subscribed` answer waits for it;
 * - on a re-join the client sends both positions (`sinceSeq` + `channelSinceSeq`) and the server replays both.
 */

import type { BroadcastEvent, ChannelStreamPosition, SubscribedEvent } from "./protocol.js";
import { StreamOrderer, type PushResult } from "./stream.js";

/** A channel's event: a broadcast that names its channel (its `seq` is in that channel's stream). */
export type ChannelEvent = BroadcastEvent & { channel: string };

export function isChannelEvent(event: { type: string; channel?: unknown }): event is ChannelEvent {
  return event.type === "broadcast" && typeof event.channel === "string";
}

/** One event of `POST /sessions/{id}/broadcasts`: any JSON `data`, to `channel` (absent or null: everyone). */
export interface PublishEvent {
  data: unknown;
  channel?: string | null;
}

/** Where each published event went, in the order given: its stream (`channel`, null for the session's) and seq. */
export interface PublishAnswer {
  items: { channel: string | null; seq: number }[];
}

/** `events` (one or a list), each without its own `channel` sent to `channel` when one is given. */
export function publishBody(events: PublishEvent | readonly PublishEvent[], channel?: string | null): { events: PublishEvent[] } {
  const list: readonly PublishEvent[] = isList(events) ? events : [events];
  return { events: list.map((event) => (typeof channel !== "string" || "channel" in event ? event : { ...event, channel })) };
}

function isList(events: PublishEvent | readonly PublishEvent[]): events is readonly PublishEvent[] {
  return Array.isArray(events);
}

export class ChannelTrack {
  /** The channel this client is on, or asks to be on at its next handshake; null: none. */
  channel: string | null;
  readonly orderer: StreamOrderer<ChannelEvent>;
  // A subscribe in flight: the channel it asks for, and that channel's events that came before its answer.
  private switchingTo: string | null | undefined = undefined;
  private early: ChannelEvent[] = [];

  constructor(deliver: (event: ChannelEvent) => void, maxBuffered: number, channel: string | null, resumeSeq?: number) {
    this.orderer = new StreamOrderer(deliver, maxBuffered);
    this.channel = channel;
    if (channel !== null && resumeSeq !== undefined) this.orderer.last = resumeSeq;
  }

  /** The channel fields of a `join`: the channel, and with a resume, the last seq seen of its stream. */
  joinFields(resuming: boolean): { channel?: string; channelSinceSeq?: number } {
    if (this.channel === null) return {};
    const last = this.orderer.last;
    return resuming && last !== null ? { channel: this.channel, channelSinceSeq: last } : { channel: this.channel };
  }

  /** A new connection is joining: hold the channel's events until its `joined`; a switch in flight is void. */
  hold(): void {
    this.orderer.hold();
    this.switchingTo = undefined;
    this.early = [];
  }

  /** `joined`: with `continues` (a recovered resume in the same epoch) delivery goes on after the last seq
   * delivered; otherwise the channel stream's position in the answer is the new baseline. */
  joined(position: ChannelStreamPosition | undefined, continues: boolean): void {
    const channel = position?.channel ?? null;
    if (channel !== this.channel) {
      this.channel = channel;
      this.orderer.restart(position?.seq ?? 0);
    } else if (continues && this.orderer.last !== null) this.orderer.release();
    else this.orderer.release(position?.seq ?? 0);
  }

  /** A channel event: into the channel's order, held for the switch in flight to its channel, or dropped (another
   * channel's, sent before a switch). */
  push(event: ChannelEvent): PushResult | "elsewhere" {
    if (event.channel === this.channel) return this.orderer.push(event);
    if (event.channel === this.switchingTo) {
      this.early.push(event);
      return "held";
    }
    return "elsewhere";
  }

  /** A `subscribe` for `channel` is on its way. */
  switching(channel: string | null): void {
    this.switchingTo = channel;
    this.early = [];
  }

  /** `subscribed` (the answer, or pushed when the session stopped offering the channel): the channel now, and
   * its stream's position, after which every event of it comes. */
  subscribed(event: SubscribedEvent): void {
    const early = event.channel === this.switchingTo ? this.early : [];
    this.switchingTo = undefined;
    this.early = [];
    if (event.channel === this.channel) return; // no switch: the stream goes on as it was
    this.channel = event.channel;
    this.orderer.restart(event.seq);
    for (const held of early) this.orderer.push(held);
  }

  /** A seq of this channel's stream the client published itself (channel events go to listeners only). */
  markOwn(channel: string | null | undefined, seq: number): boolean {
    if (channel === undefined || channel === null || channel !== this.channel) return false;
    this.orderer.markSeen(seq);
    return true;
  }

  /** A switch to none the client makes itself: the session no longer declares the channel it was on. */
  dropped(epoch: string): SubscribedEvent {
    const event: SubscribedEvent = { type: "subscribed", channel: null, seq: 0, epoch };
    this.subscribed(event);
    return event;
  }
}
