"""A batch publish (`POST /sessions/{id}/broadcasts` and its IAM twin): 1 to 25 events, each to a channel or to
the whole session, published through the session's stream (use_cases.broadcast_many: numbered in the order given,
kept in one transaction with the head's move, sent in one fan-out), so a connection that declared a protocol
version with `batch` frames gets them in one frame (per 32 KB), and an older one event by event.

Only while the session is live (active and not muted), the refusals of a WebSocket `broadcast`: SESSION_PAUSED,
SESSION_MUTED, SESSION_ENDED. A channel the session does not declare is INVALID_CHANNEL naming
`events[i].channel`. One transaction per stream the batch writes to (the session's, each channel's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from session_protocol import events
from session_schema.errors import InvalidChannel

from . import channels, use_cases
from .runtime import Runtime


@dataclass(frozen=True)
class Publication:
    data: Any
    channel: str | None = None  # None: the whole session


@dataclass(frozen=True)
class Published:
    channel: str | None  # the stream the event went to (None: the session's)
    seq: int

    def view(self) -> dict[str, Any]:
        return {"channel": self.channel, "seq": self.seq}


def publish_events(runtime: Runtime, session_id: str, publications: Sequence[Publication]) -> list[Published]:
    """Publish `publications` in the order given, each to its stream: the session-wide ones numbered and kept in
    one transaction of the session's stream (use_cases.broadcast_many), each channel's in one transaction of that
    channel's own stream (channels.publish_to_channel: its head only, the session item checked), each sent once,
    to its audience. Every channel is judged against the session first (INVALID_CHANNEL naming
    `events[i].channel`), so an undeclared one writes nothing. The stream and seq of each, in the order given."""
    session = runtime.store.get_session(session_id, consistent=True)
    groups: dict[str | None, list[int]] = {}
    for index, publication in enumerate(publications):
        if not session.declares(publication.channel):
            raise InvalidChannel(str(publication.channel), session.channels, field=f"events[{index}].channel")
        groups.setdefault(publication.channel, []).append(index)
    seqs: dict[int, int] = {}
    for channel, indexes in groups.items():
        data = [publications[index].data for index in indexes]
        if channel is None:
            frames = use_cases.broadcast_many(runtime, session_id, data).frames
        else:
            frames = _to_channel(runtime, session_id, channel, data)
        seqs |= {index: int(frame["seq"]) for index, frame in zip(indexes, frames, strict=True)}
    return [Published(publications[index].channel, seqs[index]) for index in range(len(publications))]


def _to_channel(runtime: Runtime, session_id: str, channel: str, data: list[Any]) -> list[dict[str, Any]]:
    """Broadcasts of `data` to one channel, numbered in its stream in the order given (one transaction)."""
    ts = runtime.store.clock()

    def draft(first: int) -> list[dict[str, Any]]:
        return [events.broadcast(item, ts, first + n, channel) for n, item in enumerate(data)]

    return channels.publish_to_channel(runtime, session_id, channel, draft).frames
