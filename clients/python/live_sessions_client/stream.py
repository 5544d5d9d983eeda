"""Puts a session's stream events back in `seq` order, exactly once. The twin of the TypeScript client's
`stream.ts`.

The server numbers every stream event of a session without gaps, but frames can arrive out of order (separate
fan-out invocations), twice (a resume replays what a dropped connection already had) or not at all (a drop).
So: an event at `last + 1` is delivered, then every buffered one that follows it; an event at or below `last`
is a duplicate and dropped; one further ahead waits in a bounded buffer while the gap is recovered (the client
re-joins with `sinceSeq`, see client.py). A seq the server says will never come (`joined.missing`) is skipped.

Until the baseline is known (before `joined`, or while a resumed join is being answered) events are held.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

E = TypeVar("E", bound=dict[str, Any])
PushResult = Literal["delivered", "duplicate", "held", "gap", "overflow"]


@dataclass
class StreamStats:
    delivered: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    skipped: int = 0  # seqs the server vouched will never come


class StreamOrderer(Generic[E]):
    def __init__(self, deliver: Callable[[E], None], max_buffered: int = 256) -> None:
        self.deliver = deliver
        self.max_buffered = max_buffered
        self.last: int | None = None  # the seq of the last event delivered (or accounted for)
        self.stats = StreamStats()
        # seq -> the event waiting for its turn, or None for a seq accounted for without an event to hand over
        # (the speaker's own broadcastSent, a seq the server vouches is missing).
        self._ahead: dict[int, E | None] = {}
        self._holding = True

    @property
    def buffered(self) -> int:
        """How many events wait ahead of a gap."""
        return len(self._ahead)

    @property
    def has_gap(self) -> bool:
        """True while an event is waiting for an earlier one that has not come."""
        return not self._holding and bool(self._ahead)

    def hold(self) -> None:
        """Hold everything from now until `release` (a connection is joining)."""
        self._holding = True

    def release(self, baseline: int | None = None) -> None:
        """Delivery resumes after `baseline` (the session view's seq on a fresh or unrecovered join), or after the
        last delivered event when `baseline` is None (a recovered resume)."""
        if baseline is not None:
            self.last = baseline
            for seq in [s for s in self._ahead if s <= baseline]:
                del self._ahead[seq]
        self._holding = False
        self._drain()

    def restart(self, baseline: int | None) -> None:
        """Another stream takes this one's place (a channel switch): what was held of the old one is forgotten,
        delivery resumes after `baseline` (held until `release` when it is None). Stats go on counting."""
        self._ahead.clear()
        self.last = baseline
        self._holding = baseline is None

    def push(self, event: E) -> PushResult:
        return self._accept(int(event["seq"]), event)

    def mark_seen(self, seq: int) -> None:
        """A seq this connection has seen without an event to deliver (the speaker's own `broadcastSent`)."""
        self._accept(seq, None)

    def skip(self, seqs: Iterable[int]) -> None:
        """Seqs the server vouches will never come (`joined.missing`): no gap waits for them."""
        for seq in seqs:
            if (self.last is None or seq > self.last) and seq not in self._ahead:
                self.stats.skipped += 1
                self._accept(seq, None)

    def skip_gap(self) -> range:
        """Gives up on the seqs missing before the first buffered event (the server replayed and they are still
        not there); returns them."""
        if self.last is None or not self._ahead:
            return range(0)
        hole = range(self.last + 1, min(self._ahead))
        self.skip(hole)
        return hole

    def _accept(self, seq: int, event: E | None) -> PushResult:
        if self.last is not None and seq <= self.last:
            self.stats.duplicates += 1
            return "duplicate"
        if seq in self._ahead:
            if event is not None and self._ahead[seq] is None:
                self._ahead[seq] = event
            else:
                self.stats.duplicates += 1
            return "held" if self._holding else "gap"
        if self._holding or self.last is None or seq != self.last + 1:
            self._ahead[seq] = event
            if len(self._ahead) > self.max_buffered:
                # Keep the nearest events; the farthest one is fetched again by the recovery the overflow starts.
                del self._ahead[max(self._ahead)]
                return "overflow"
            if self._holding:
                return "held"
            self.stats.out_of_order += 1
            return "gap"
        self._advance(seq, event)
        self._drain()
        return "delivered"

    def _advance(self, seq: int, event: E | None) -> None:
        self.last = seq
        if event is not None:
            self.stats.delivered += 1
            self.deliver(event)

    def _drain(self) -> None:
        if self._holding or self.last is None:
            return
        while self.last + 1 in self._ahead:
            seq = self.last + 1
            self._advance(seq, self._ahead.pop(seq))
