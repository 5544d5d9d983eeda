"""The session's stream, and its one owner: every stream event (`broadcast`, `message`, `sessionUpdated`,
`sessionEnded`, `artifactUpdated`) is published here, and a resuming connection recovers here.

`publish` reads the head (the session item, which also answers the change's own checks), numbers the events
from it and keeps them with the change in ONE transaction conditional on the seq read
(session_store/stream_log.py `append`): a crash leaves a claimed seq with its event or neither. A lost race
hands back the head it met and is drafted again, a bounded number of times with jitter. Then it tells the
audience (the fan-out) and presence. Telling is never raised: the change happened, so the caller's answer must
say so (a client retrying a write that succeeded would duplicate it); a listener that missed it recovers it.
(A fan-out whose connection reads stay throttled is not dropped: session_runtime/fanout.py hands it to the
fan-out worker.)

`resume` is its twin for a resuming `join`: the connection is held out of live fan-outs, its missed events are
posted in seq order, and it is released only while the head is still the last event replayed (else the tail
is replayed and it tries again), so it receives strictly increasing seqs: no live event inside the replay.
`GET /sessions/{id}/events` reads the same pages through the store's `recover`.
"""

from __future__ import annotations

import hashlib
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from session_protocol import events, versions
from session_protocol.batch import Outgoing
from session_schema.errors import ConcurrentUpdate, ConnectionNotFound, SessionEnded
from session_schema.models import Connection, Session, StreamEvent
from session_store.legacy import LegacyItemUpgraded
from session_store.store import SessionStore
from session_store.stream_log import NOT_RECOVERED, ChannelMoved, HeadChange, Recovery, StreamMoved, by_stream

from . import metric_names, presence
from .fanout import Fanout, FanoutResult, is_listener
from .observability import logger, metrics

# Each lost race means another publish of the same session was kept: n publishers at once need up to n writes.
MAX_PUBLISH_ATTEMPTS = 16
MAX_RELEASE_ATTEMPTS = 8
RETRY_JITTER_SECONDS = 0.005  # a lost race waits up to this (doubling per attempt, at most the cap) first
RETRY_JITTER_CAP_SECONDS = 0.05
HOLD_MS = 30_000  # a recovery's hold outlives any invocation (API Gateway's 29 s): one that died lapses after

T = TypeVar("T")
Frame = dict[str, Any]


@dataclass(frozen=True)
class Draft(Generic[T]):
    """One try of a change at a head: the events it pushes (numbered from head.seq + 1; none: nothing to change,
    nothing written), what it writes besides them, and what the caller gets back (a message, an artifact)."""

    frames: list[Frame]
    change: HeadChange
    result: T


@dataclass(frozen=True)
class Published(Generic[T]):
    """A publish: the session before and as its write left it (`after.seq` is the last event's), the events,
    what the draft returned, the fan-out (None: not told, or nothing changed), and the writes tried."""

    before: Session
    after: Session
    frames: list[Frame]
    result: T
    told: FanoutResult | None
    attempts: int
    tell_ms: float = 0.0


def unchanged(result: T) -> Draft[T]:
    """The draft of a change that changes nothing at this head (a repeated mute, a speaker back)."""
    return Draft([], HeadChange(), result)


def write(store: SessionStore, session_id: str, draft: Callable[[Session], Draft[T]]) -> Published[T]:
    """The publish's write, not told to anyone: read the head, draft, append; a lost race drafts again from the
    head the refusal handed back. ConcurrentUpdate after MAX_PUBLISH_ATTEMPTS."""
    publish_id = uuid.uuid4().hex
    head = store.read_head(session_id)
    for attempt in range(1, MAX_PUBLISH_ATTEMPTS + 1):
        drafted = draft(head)  # raises the refusal this head explains
        if not drafted.frames:
            return Published(head, head, [], drafted.result, None, attempt)
        try:
            after = store.append(head, drafted.frames, drafted.change, token=_token(publish_id, head))
            return Published(head, after, drafted.frames, drafted.result, None, attempt)
        except StreamMoved as moved:
            head = moved.head
        except ChannelMoved:
            pass  # drafted again: the draft reads the channel heads it writes to
        except LegacyItemUpgraded:
            head = store.read_head(session_id)
        time.sleep(random.uniform(0, min(RETRY_JITTER_CAP_SECONDS, RETRY_JITTER_SECONDS * 2 ** (attempt - 1))))
    raise ConcurrentUpdate(f"session {session_id}")


def publish(
    store: SessionStore,
    session_id: str,
    draft: Callable[[Session], Draft[T]],
    audience: Fanout,
    *,
    listeners_only: bool = False,
) -> Published[T]:
    """Write (see `write`), then tell `audience` the events in order, and presence of the connections found gone.
    An end also closes the listeners (the speaker keeps its connection to see the end)."""
    published = write(store, session_id, draft)
    if not published.frames:
        return published
    started = time.perf_counter()
    told = _tell(audience, published.after, published.frames, listeners_only)
    tell_ms = (time.perf_counter() - started) * 1000
    metrics.add_metric(name="PublishAttempts", unit=MetricUnit.Count, value=published.attempts)
    return Published(
        published.before, published.after, published.frames, published.result, told, published.attempts, tell_ms
    )


def _token(publish_id: str, head: Session) -> str:
    """The transaction's ClientRequestToken: one per publish and head seq, so botocore's retry of the very same
    request (one that committed but whose answer was lost) repeats it, and a try at another head does not."""
    return hashlib.sha256(f"{publish_id}:{head.sessionId}:{head.seq}".encode()).hexdigest()[:32]


def _tell(audience: Fanout, session: Session, frames: list[Frame], listeners_only: bool) -> FanoutResult | None:
    """Every fan-out of stream events: one send of all of them, in order (in `batch` frames to the connections
    whose protocol version has them), sized by the counts the head read returned (and the speaker), so the shard
    decision (session_runtime/shards.py) needs no read. A channel's events reach only that channel's connections
    (the fan-out sends each connection the session-wide events and its own channel's, interleaved as published);
    a publish to channels only reads each channel's connections alone, one send per channel."""
    only = is_listener if listeners_only else None
    close = None if session.joinable else is_listener
    scope = session.connection_scope()  # every partition of the session (no read: the head holds its layout)
    by_channel = _channels_only(frames)
    try:
        if by_channel is None:
            size = session.listenerCount + (0 if listeners_only else 1)
            return presence.send_many(
                audience, session.sessionId, frames, only=only, close=close, size=size, scope=scope
            )
        told = FanoutResult()
        for channel, events_of_channel in by_channel.items():
            size = session.channelCounts.get(channel, 0)
            told.add(
                presence.send_many(
                    audience,
                    session.sessionId,
                    events_of_channel,
                    only=is_listener,
                    size=size,
                    scope=scope.of_channel(channel),
                )
            )
        return told
    except Exception:  # noqa: BLE001 - the write is done; see the module docstring
        logger.exception("could not notify connections", extra={"sessionId": session.sessionId})
        metrics.add_metric(name=metric_names.NOTIFY_FAILED, unit=MetricUnit.Count, value=1)
        return None


def _channels_only(frames: list[Frame]) -> dict[str, list[Frame]] | None:
    """A publish's events by channel, each in order, when every one is a channel's (None: some are session-wide)."""
    streams = by_stream(frames)
    if None in streams:
        return None
    return {channel: events for channel, events in streams.items() if channel is not None}


def tell_speaker(fanout: Fanout, session: Session, frame: Frame) -> None:
    """The speaker's own, fuller copy of a kept event the listeners got in a narrower form (an unshared artifact:
    they get its ID and status, the speaker its public view): posted live after the publish, never kept (a
    replay gives the speaker the kept frame). Never raised, as `_tell`."""
    speaker = session.speakerConnectionId
    if speaker is None:
        return
    try:
        fanout.send_to(speaker, frame)
    except Exception:  # noqa: BLE001 - the write is done; see the module docstring
        logger.exception("could not tell the speaker", extra={"sessionId": session.sessionId})
        metrics.add_metric(name=metric_names.NOTIFY_FAILED, unit=MetricUnit.Count, value=1)


def answer_caller(fanout: Fanout, connection_id: str, frames: list[Frame]) -> Frame:
    """The caller of a change gets its events as everyone else did (it was left out of the fan-out): all but the
    last posted now, the last as the action's answer (an end: `sessionUpdated`, then `sessionEnded`)."""
    for frame in frames[:-1]:
        fanout.send_to(connection_id, frame)
    return frames[-1]


# ------------------------------------------------------------------ recovery


@dataclass(frozen=True)
class ChannelReplay:
    """The channel part of a resuming join: the connection's channel, its stream's head as read under the hold
    (`joined.channelStream.seq`) and what the client missed of it (nothing asked: recovered, no events)."""

    channel: str
    head: int
    recovery: Recovery


def resume(
    store: SessionStore,
    fanout: Fanout,
    connection: Connection,
    since_seq: int,
    epoch: str,
    joined: Callable[[Session, Recovery, ChannelReplay | None], Frame],
    channel_since: int | None = None,
) -> tuple[Session, int]:
    """A resuming join: hold the connection out of live fan-outs (of both its streams when it is on a channel), read
    the heads (SessionEnded once the session is not joinable), post `joined(head, recovery, channel)`, every kept
    event after `since_seq` up to the head and, with `channel_since`, every kept event of its channel after it up
    to that head, then release it from the last ones replayed; events kept meanwhile are replayed first. So each
    stream's seqs are strictly increasing and no live event comes inside the replay. (the head, the events
    replayed; -1: the connection is gone)."""
    session_id, connection_id, channel = connection.sessionId, connection.connectionId, connection.channel
    if not store.hold_connection(connection, for_ms=HOLD_MS):
        raise ConnectionNotFound()
    head: Session | None = None
    channel_head: int | None = None
    try:
        head = store.read_head(session_id)  # after the hold: a later event skips the connection until released
        if not head.joinable:
            raise SessionEnded(session_id, head.status.value)
        recovery = recover_all(store, head, since_seq, epoch)
        if recovery.missing and connection.protocolVersion < versions.MISSING_SEQS:
            # A client of an older version cannot be told to skip a hole: it would resume across it forever.
            recovery = NOT_RECOVERED
        replay_channel = None
        if channel is not None:
            channel_head = store.read_channel_head(session_id, channel)
            missed = Recovery(True, [], None)
            if channel_since is not None:
                missed = recover_all(store, head, channel_since, epoch, channel=channel, channel_seq=channel_head)
            replay_channel = ChannelReplay(channel, channel_head, missed)
        if not fanout.send_to(connection_id, joined(head, recovery, replay_channel)):
            return head, -1
        replayed = _send_both(fanout, connection, recovery, replay_channel.recovery if replay_channel else None)
        last, last_channel = head, channel_head
        for _ in range(MAX_RELEASE_ATTEMPTS):
            if replayed < 0:
                return head, replayed
            moved = store.release_connection(last, connection, last_channel)
            if moved is None:
                return head, replayed
            now, now_channel = moved
            tail = recover_all(store, now, last.seq, now.epoch)
            channel_tail = None
            if channel is not None and last_channel is not None and now_channel is not None:
                channel_tail = recover_all(
                    store, now, last_channel, now.epoch, channel=channel, channel_seq=now_channel
                )
            sent = _send_both(fanout, connection, tail, channel_tail)
            replayed, last, last_channel = (-1 if sent < 0 else replayed + sent), now, now_channel
        logger.warning("the stream kept moving: released without the last check", extra={"seq": last.seq})
        metrics.add_metric(name="RecoveryReleasedUnchecked", unit=MetricUnit.Count, value=1)
        store.release_connection_now(connection, last.seq + 1, _after(last_channel))
        return head, replayed
    except BaseException:
        # Never leave it deaf: live from the heads read (a gap the client sees by seq and resumes across).
        channel_from = _after(channel_head) if channel_head is not None else (0 if channel is not None else None)
        store.release_connection_now(connection, head.seq + 1 if head else 0, channel_from)
        raise


def _after(seq: int | None) -> int | None:
    return None if seq is None else seq + 1


def recover_all(
    store: SessionStore, head: Session, since_seq: int, epoch: str, *, channel: str | None = None, channel_seq: int = 0
) -> Recovery:
    """Every page of `recover` from `since_seq` to `head` (`channel`: of that channel's stream, up to its head
    `channel_seq`), as one recovery (its holes in `missing`)."""
    recovery = store.recover(head, since_seq, epoch, channel=channel, channel_seq=channel_seq)
    found, missing = list(recovery.events), list(recovery.missing)
    while recovery.recovered and recovery.next_since_seq is not None:
        recovery = store.recover(head, recovery.next_since_seq, epoch, channel=channel, channel_seq=channel_seq)
        found += recovery.events
        missing += recovery.missing
    if not recovery.recovered:
        return NOT_RECOVERED
    return Recovery(True, found, None, missing)


def _send_both(fanout: Fanout, connection: Connection, session: Recovery, channel: Recovery | None) -> int:
    """Post what a recovery read of the session stream, then of the channel's: how many (-1: the connection is
    gone)."""
    sent = _send(fanout, connection, session.events)
    if sent < 0 or channel is None or not channel.events:
        return sent
    more = _send(fanout, connection, channel.events)
    return -1 if more < 0 else sent + more


def _send(fanout: Fanout, connection: Connection, kept: list[StreamEvent]) -> int:
    """Post kept events to one connection, each exactly as it was pushed, in as few frames as its protocol version
    allows (`batch` from version 2): how many (-1: the connection is gone)."""
    page = Outgoing.kept(event.frame.encode() for event in kept)
    if not fanout.send_all_to(connection.connectionId, page, connection.protocolVersion):
        return -1
    return len(page)


def session_draft(head: Session, change: HeadChange | None) -> Draft[None]:
    """The draft of a change of the session's own state at `head` (None: nothing to change): `sessionUpdated`,
    and `sessionEnded` after it when the change ends the session, each with the view as of its own seq."""
    if change is None:
        return unchanged(None)
    after = change.applied_to(head, 1)
    if not after.joinable:
        after = change.applied_to(head, 2)
    return Draft(events.session_change(after), change, None)
