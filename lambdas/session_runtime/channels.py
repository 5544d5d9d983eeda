"""Channels: tracks inside a session. A connection is on at most one channel and follows two streams: the
session's (session-wide events) and its channel's own gap-free stream (that channel's events only).

- `publish_to_channel` numbers and keeps a channel's events in one transaction on that channel's head (the
  session item is only checked: live, the speaker's) through the session's stream owner (session_runtime/stream.py),
  then fans them out to that channel's connections only (one Query range per connection partition).
- `subscribe` moves a connection to another channel (or none) in one transaction and answers with the new
  channel stream's position, from which the connection gets every event of that channel and none of its old one.
  (A resuming connection's channel stream is replayed with the session's: session_runtime/stream.py `resume`.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from session_protocol import events
from session_schema.errors import ConcurrentUpdate, ConnectionNotFound, InvalidChannel
from session_schema.models import AnyConnection, ConnectionEntry, Session
from session_store.store import ChannelMoved

from . import presence, stream
from .fanout import FanoutResult
from .runtime import Runtime

MAX_ATTEMPTS = 8
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
    """Number `draft(first seq)`'s events in `channel`'s stream and keep them (one transaction on its head, the
    session item only checked; retried on a lost race: session_runtime/stream.py), then send them to that channel's
    listeners. Refusals (ended, paused, muted, not the speaker, INVALID_CHANNEL) come from the head read and are
    checked again by the write."""
    store = runtime.store

    def drafted(head: Session) -> stream.Draft[None]:
        if not head.declares(channel):
            raise InvalidChannel(channel, head.channels)
        at = store.read_channel_head(session_id, channel)
        change = store.broadcast_change(head, speaker=speaker, channel_heads={channel: at})
        return stream.Draft(draft(at + 1), change, None)

    published = stream.publish(store, session_id, drafted, runtime.fanout, listeners_only=True)
    return ChannelPublished(published.after, channel, published.frames, published.told or FanoutResult())


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
