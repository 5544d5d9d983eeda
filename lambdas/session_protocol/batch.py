"""Several events for one connection in one frame: `{"type":"batch","events":[...]}` (events.BatchEvent).

API Gateway meters a WebSocket message per 32 KB, so the events of one publish (a batch publish, a session's
end) or of one recovery page cost one message per 32 KB instead of one per event. Each event is put in the
frame exactly as it would be sent alone (its encoded bytes, never re-encoded), in the order given (seq order);
a run of events over 32 KB is split into several frames, each under it; an event alone in its frame (one too
large to share one, or the only one) is sent bare. A connection that declared a version without `batch`
gets every event in its own frame, and never an event kind newer than its version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import versions
from .encoding import encode_payload
from .events import SINCE

BATCH_MAX_BYTES = 32 * 1024  # API Gateway's metering unit of a WebSocket message
_OPEN = b'{"type":"batch","events":['
_CLOSE = b"]}"


def pack(encoded: Sequence[bytes], max_bytes: int = BATCH_MAX_BYTES) -> list[bytes]:
    """The frames that carry `encoded` (each one encoded event) in order: consecutive events share a `batch`
    frame of at most `max_bytes`; an event that shares no frame goes bare."""
    frames: list[bytes] = []
    group: list[bytes] = []
    size = 0
    for event in encoded:
        if group and size + 1 + len(event) > max_bytes:
            frames.append(_frame(group))
            group = []
        size = (size + 1 + len(event)) if group else len(_OPEN) + len(event) + len(_CLOSE)
        group.append(event)
    if group:
        frames.append(_frame(group))
    return frames


def _frame(group: list[bytes]) -> bytes:
    return group[0] if len(group) == 1 else _OPEN + b",".join(group) + _CLOSE


class Outgoing:
    """Events bound for connections, each encoded once; `frames_for(version)` is what a connection that declared
    `version` is posted, computed once per version (and selection) whatever the number of connections."""

    def __init__(self, encoded: Iterable[tuple[int, bytes]]) -> None:
        self._events = tuple(encoded)  # (the version that introduced its kind, its bytes)
        self._frames: dict[tuple[int, tuple[int, ...] | None], list[bytes]] = {}

    @classmethod
    def of(cls, payloads: Iterable[Mapping[str, Any]]) -> Outgoing:
        """Event objects (events.py builders), in the order they go out."""
        return cls(
            (SINCE.get(str(payload.get("type")), versions.FIRST), encode_payload(payload)) for payload in payloads
        )

    @classmethod
    def kept(cls, frames: Iterable[bytes]) -> Outgoing:
        """Already-encoded stream events as they were pushed (a recovery replays the kept bytes), of kinds every
        version has."""
        return cls((versions.FIRST, frame) for frame in frames)

    def __len__(self) -> int:
        return len(self._events)

    def frames_for(self, version: int, taken: tuple[int, ...] | None = None) -> list[bytes]:
        """`taken`: the indexes of the events this connection takes, in order (None: all of them; a connection a
        recovery replays to skips the events its replay carries)."""
        frames = self._frames.get((version, taken))
        if frames is None:
            chosen = self._events if taken is None else [self._events[index] for index in taken]
            known = [event for since, event in chosen if since <= version]
            frames = pack(known) if version >= versions.BATCH else known
            self._frames[(version, taken)] = frames
        return frames
