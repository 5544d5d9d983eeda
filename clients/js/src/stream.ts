/**
 * Puts a session's stream events back in `seq` order, exactly once.
 *
 * The server numbers every stream event of a session without gaps, but frames can arrive out of order
 * (separate fan-out invocations), twice (a resume replays what a dropped connection already had) or not at
 * all (a drop). So: an event at `last + 1` is delivered, then every buffered one that follows it; an event
 * at or below `last` is a duplicate and dropped; one further ahead waits in a bounded buffer while the gap
 * is recovered (the client asks the server for the missing events, see client.ts).
 *
 * Until the baseline is known (before `joined`, or while a resumed join is being answered) events are held.
 *
 * A seq the server vouches will never come (`joined.missing`, a page's `missing`: claimed by a writer that
 * died before keeping its event) is skipped: passed over when its turn comes, never waited for, so the
 * events after it are not held (nor the stream reset) over a hole no recovery can fill.
 */

export interface Sequenced {
  seq: number;
}

export type PushResult = "delivered" | "duplicate" | "held" | "gap" | "overflow";

export class StreamOrderer<E extends Sequenced> {
  /** The seq of the last event delivered (or accounted for); null before the first baseline. */
  last: number | null = null;
  /** Counters an app (or a test) can read. */
  readonly stats = { delivered: 0, duplicates: 0, outOfOrder: 0, skipped: 0 };
  // seq -> the event waiting for its turn, or null for a seq already seen elsewhere (our own broadcastSent).
  private readonly ahead = new Map<number, E | null>();
  // Seqs that will never come (not counted against maxBuffered: they hold no event).
  private readonly skipped = new Set<number>();
  private holding = true;

  constructor(
    private readonly deliver: (event: E) => void,
    readonly maxBuffered = 256,
  ) {}

  /** How many events wait ahead of a gap. */
  get buffered(): number {
    return this.ahead.size;
  }

  /** True while an event is waiting for an earlier one that has not come. */
  get hasGap(): boolean {
    return !this.holding && this.ahead.size > 0;
  }

  /** Hold everything from now until `release` (a new connection is joining). */
  hold(): void {
    this.holding = true;
  }

  /** Delivery resumes after `baseline` (the session view's seq on a fresh or unrecovered join), or after
   * the last delivered event when `baseline` is undefined (a recovered resume). */
  release(baseline?: number): void {
    if (baseline !== undefined) {
      this.last = baseline;
      for (const seq of [...this.ahead.keys()]) if (seq <= baseline) this.ahead.delete(seq);
      for (const seq of [...this.skipped]) if (seq <= baseline) this.skipped.delete(seq);
    }
    this.holding = false;
    this.drain();
  }

  /** Another stream takes this one's place (a channel switch): what was held of the old one is forgotten,
   * delivery resumes after `baseline` (held until `release` when `baseline` is null). Stats go on counting. */
  restart(baseline: number | null): void {
    this.ahead.clear();
    this.skipped.clear();
    this.last = baseline;
    this.holding = baseline === null;
  }

  push(event: E): PushResult {
    return this.accept(event.seq, event);
  }

  /** A seq this connection has seen without an event to deliver (the speaker's own `broadcastSent`). */
  markSeen(seq: number): void {
    this.accept(seq, null);
  }

  /** Seqs that will never come: their turn passes without an event (one that does come is still delivered). */
  skip(seqs: Iterable<number>): void {
    for (const seq of seqs) if (this.last === null || seq > this.last) this.skipped.add(seq);
    this.drain();
  }

  /** Gives up on the hole before the first buffered event: its seqs are skipped, what follows is delivered.
   * Returns the seqs skipped. */
  skipGap(): number[] {
    if (this.last === null || this.ahead.size === 0) return [];
    const seqs: number[] = [];
    for (let seq = this.last + 1; seq < Math.min(...this.ahead.keys()); seq += 1) seqs.push(seq);
    this.skip(seqs);
    return seqs;
  }

  private accept(seq: number, event: E | null): PushResult {
    if (this.last !== null && seq <= this.last) {
      this.stats.duplicates += 1;
      return "duplicate";
    }
    if (this.ahead.has(seq)) {
      if (event && this.ahead.get(seq) === null) this.ahead.set(seq, event);
      else this.stats.duplicates += 1;
      return this.holding ? "held" : "gap";
    }
    if (this.holding || this.last === null || seq !== this.last + 1) {
      this.ahead.set(seq, event);
      if (this.ahead.size > this.maxBuffered) {
        // Keep the nearest events; the farthest one is fetched again by the recovery the overflow starts.
        this.ahead.delete(Math.max(...this.ahead.keys()));
        return "overflow";
      }
      if (this.holding) return "held";
      this.stats.outOfOrder += 1;
      return "gap";
    }
    this.advance(seq, event);
    this.drain();
    return "delivered";
  }

  private advance(seq: number, event: E | null): void {
    this.last = seq;
    if (event) {
      this.stats.delivered += 1;
      this.deliver(event);
    }
  }

  private drain(): void {
    if (this.holding || this.last === null) return;
    for (let next: number = this.last + 1; ; next += 1) {
      if (this.ahead.has(next)) {
        const event = this.ahead.get(next) ?? null;
        this.ahead.delete(next);
        this.advance(next, event);
      } else if (this.skipped.delete(next)) {
        this.last = next;
        this.stats.skipped += 1;
      }
      else return;
    }
  }
}
