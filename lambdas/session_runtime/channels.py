"""Channels: tracks inside a session. A connection is on at most one channel and follows two streams: the
session's (session-wide events) and its channel's own gap-free stream (that channel's events only).

- `publish_to_channel` numbers and keeps a channel's events in one transaction on that channel's head (the
  session item is only checked: live, the speaker's), then fans them out to that channel's connections only
  (one Query range per connection partition).
- `subscribe` moves a connection to another channel (or none) in one transaction and answers with the new
  channel stream's position, from which the connection gets every event of that channel and none of its old one.
  (A resuming connection's channel stream is replayed with the session's: session_runtime/stream.py `resume`.)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from session_protocol import events
from session_schema.errors import ConcurrentUpdate, ConnectionNotFound
from session_schema.models import AnyConnection, ConnectionEntry, Session
from session_store.dynamo import ConditionFailed
from session_store.store import ChannelMoved

from . import presence
from .fanout import FanoutResult, is_listener
from .runtime import Runtime

MAX_ATTEMPTS = 8
RETRY_JITTER_SECONDS = 0.005  # a lost race waits up to this (doubling per attempt) before its next try
Frame = dict[str, Any]


@dataclass(frozen=True)
class ChannelPublished:
    """A publish to a channel's stream: the session read, the channel, its events (the last one's seq is the head)
    and the fan-out."""

    session: Session
    channel: str
    frames: list[Frame]
    told: FanoutResult

    @property
    def seq(self) -> int:
        return int(self.frames[-1]["seq"])


def publish_to_channel(
    runtime: Runtime,
    session_id: str,
    channel: str,
    draft: Callable[[int], list[Frame]],
    *,
    speaker: str | None = None,
) -> ChannelPublished:
    """Number `draft(first seq)`'s events in `channel`'s stream and keep them (one transaction, retried on a lost
    race), then send them to that channel's listeners. Refusals (ended, paused, muted, not the speaker,
    INVALID_CHANNEL) come from the session read and are checked again by the write."""
    store = runtime.store
    session = store.get_session(session_id, consistent=True)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        condition = store.channel_publish_check(session, channel, speaker=speaker)
        head = store.read_channel_head(session_id, channel)
        frames = draft(head + 1)
        try:
            store.append_channel_events(session, channel, head, frames, condition)
            scope = session.connection_scope().of_channel(channel)
            size = session.channelCounts.get(channel, 0)
            told = presence.send_many(runtime.fanout, session_id, frames, only=is_listener, size=size, scope=scope)
            return ChannelPublished(session, channel, frames, told)
        except ChannelMoved:
            pass
        except ConditionFailed:
            session = store.get_session(session_id, consistent=True)  # judged again: raises what changed
        time.sleep(random.uniform(0, RETRY_JITTER_SECONDS * 2 ** (attempt - 1)))
    raise ConcurrentUpdate(f"channel {channel} of session {session_id}")


def subscribe(runtime: Runtime, connection: AnyConnection, channel: str | None) -> tuple[AnyConnection, Frame]:
    """Move `connection` to `channel` (None: to none) and the answer: `subscribed` with the new channel stream's
    position. The switch is one transaction conditional on that position (read again when a publish took it
    meanwhile), so every later event of the channel reaches the connection. The speaker hears the new counts."""
    store = runtime.store
    for _ in range(MAX_ATTEMPTS):
        head = store.read_channel_head(connection.sessionId, channel) if channel is not None else 0
        try:
            moved = store.switch_channel(connection, channel, head_seq=head)
        except ChannelMoved:
            continue
        session = store.get_session(connection.sessionId, consistent=True)
        if moved.channel != connection.channel:
            presence.changed(session, moved.connectionId, presence.MOVED)
        return moved, events.subscribed(channel, head, session.epoch)
    raise ConcurrentUpdate(f"channel {channel} of session {connection.sessionId}")


def unsubscribe_all(runtime: Runtime, session: Session, channel: str) -> int:
    """Move every connection still on `channel` (which `session` no longer declares) to no channel, each in its
    own switch transaction, and tell each (`subscribed`, channel null): how many were moved."""
    moved = 0
    scope = session.connection_scope().of_channel(channel)
    for connection in list(runtime.store.iter_connections(session.sessionId, scope=scope)):
        try:
            _, answer = subscribe(runtime, connection, None)
        except (ConnectionNotFound, ConcurrentUpdate):
            continue  # gone meanwhile (its leave moved the count), or left to the sweep's recount
        runtime.fanout.send_to(connection.connectionId, answer)
        moved += 1
    return moved


def channel_stream(runtime: Runtime, connection: ConnectionEntry) -> tuple[str, int] | None:
    """(channel, head seq) of the connection's channel stream, None when it is on none (`joined.channelStream`)."""
    if connection.channel is None:
        return None
    return connection.channel, runtime.store.read_channel_head(connection.sessionId, connection.channel)
