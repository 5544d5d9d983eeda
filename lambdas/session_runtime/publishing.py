"""A batch publish (`POST /sessions/{id}/broadcasts` and its IAM twin): 1 to 25 events, each to a channel or to
the whole session, published in the order given through the session's stream owner (session_runtime/stream.py):
numbered each in its own stream (the session's, or its channel's), kept in ONE transaction with the move of every
head it touches (all of it or nothing), and sent in one fan-out in that order: each connection gets the
session-wide events and its own channel's, interleaved as given, in one `batch` frame (per 32 KB) when its protocol
version has them, else event by event.

Only while the session is live (active and not muted), the refusals of a WebSocket `broadcast`: SESSION_PAUSED,
SESSION_MUTED, SESSION_ENDED. A channel the session does not declare is INVALID_CHANNEL naming
`events[i].channel`, before anything is written. The transaction: the session item (its `seq` moved, or only
checked when no event is session-wide), each channel head touched, each event: at most 25 + 25 + 1 = 51 actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from session_protocol import events
from session_schema.errors import InvalidChannel
from session_schema.models import Session

from . import stream
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
    """Publish `publications` in the order given, each numbered in its stream, all in one transaction (retried
    whole on a lost race) and sent once to its audience. The stream and seq of each, in the order given."""
    store = runtime.store

    def draft(head: Session) -> stream.Draft[None]:
        for index, publication in enumerate(publications):
            if not head.declares(publication.channel):
                raise InvalidChannel(str(publication.channel), head.channels, field=f"events[{index}].channel")
        touched = dict.fromkeys(p.channel for p in publications if p.channel is not None)
        heads = {channel: store.read_channel_head(session_id, channel) for channel in touched}
        change = store.broadcast_change(head, channel_heads=heads)
        ts = store.clock()
        last: dict[str | None, int] = {None: head.seq}
        last.update(heads)
        frames = []
        for publication in publications:
            last[publication.channel] += 1
            frames.append(events.broadcast(publication.data, ts, last[publication.channel], publication.channel))
        return stream.Draft(frames, change, None)

    published = stream.publish(store, session_id, draft, runtime.fanout)
    return [Published(frame.get("channel"), int(frame["seq"])) for frame in published.frames]
