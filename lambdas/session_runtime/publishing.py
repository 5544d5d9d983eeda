"""A batch publish (`POST /sessions/{id}/broadcasts` and its IAM twin): 1 to 25 events, each to a channel or to
the whole session, published through the session's stream (use_cases.broadcast_many: numbered in the order given,
kept in one transaction with the head's move, sent in one fan-out), so a connection that declared a protocol
version with `batch` frames gets them in one frame (per 32 KB), and an older one event by event.

Only while the session is live (active and not muted), the refusals of a WebSocket `broadcast`: SESSION_PAUSED,
SESSION_MUTED, SESSION_ENDED. A channel the session does not declare is INVALID_CHANNEL naming
`events[i].channel` (no session declares channels until the channels work lands, so any channel is refused for now).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from session_schema.errors import InvalidChannel

from . import use_cases
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
    for index, publication in enumerate(publications):
        if publication.channel is not None:
            raise InvalidChannel(publication.channel, [], field=f"events[{index}].channel")
    published = use_cases.broadcast_many(runtime, session_id, [p.data for p in publications])
    return [Published(None, int(frame["seq"])) for frame in published.frames]
