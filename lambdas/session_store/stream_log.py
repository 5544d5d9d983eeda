"""The session stream's primitives: its head (the session item's `seq`), the one write that numbers events and
keeps them, the read that recovers them, and the mark that keeps a recovering connection out of live fan-outs.

A publish (session_runtime/stream.py owns the loop) reads the head, then `append`s: ONE TransactWriteItems
moves the head's `seq` from n to n + k conditional on it still being n (and on the change's own conditions),
puts the k events `EVT#<seq>` and the change's own items. A crash leaves all of it or none of it, so a claimed
seq always has its event. A lost race is `StreamMoved`, carrying the head as the refusal found it.

Data written by older code (claim first, keep later) may still have a seq at or below the head with no event.
`recover` reports such a hole in `missing` once it is provably permanent: the next kept event is older than
the longest-living writer (the functions' timeout), which therefore can no longer keep it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from session_schema import codec, keys
from session_schema.cursor import CursorSeal
from session_schema.errors import ConnectionNotFound, SessionNotFound
from session_schema.functions import FUNCTIONS
from session_schema.models import SEQ_MAX, ChannelHead, ConnectionEntry, Session, StreamEvent

from . import expressions as ex
from .dynamo import MAX_PAGE, ConditionFailed, now_ms
from .dynamo import cancellation_reasons as _cancellation_reasons
from .dynamo import failed as _failed
from .seat_ledger import SeatLedger

_SEQ = ex.field(Session, "seq")
_LIVE_FROM = ex.field(ConnectionEntry, "liveFromSeq")
_LIVE_FROM_CHANNEL = ex.field(ConnectionEntry, "liveFromChannelSeq")
_HEAD_SEQ = ex.field(ChannelHead, "seq")
_HELD_UNTIL = ex.field(ConnectionEntry, "heldUntil")
# A connection's `liveFromSeq` (and `liveFromChannelSeq`) while a recovery replays to it: above every seq, so no live
# event of that stream is sent to it.
HELD = SEQ_MAX + 1
# No writer lives longer than the longest function timeout: a seq claimed by older code (claim, then keep) and
# still without an event once a later event is older than this will never get one.
WRITER_LIFETIME_MS = max(function.timeout_seconds for function in FUNCTIONS) * 1000


class StreamMoved(Exception):
    """The head is no longer the one read (another publish took the seq, or the session changed under the
    change's conditions): `head` is the session as the refusal found it."""

    def __init__(self, head: Session) -> None:
        super().__init__(f"stream of {head.sessionId} at {head.seq}")
        self.head = head


class ChannelMoved(Exception):
    """A channel's stream head is no longer the seq read: read it again."""

    def __init__(self, channel: str) -> None:
        super().__init__(f"channel {channel} moved")
        self.channel = channel


class ItemRefused(Exception):
    """One of the change's own items refused its condition: `index` in `HeadChange.items`, `item` as found
    (None: there was none). Nothing was written."""

    def __init__(self, index: int, item: Mapping[str, Any] | None) -> None:
        super().__init__(f"item {index} refused")
        self.index = index
        self.item = item


@dataclass(frozen=True)
class HeadChange:
    """What a publish changes besides the head's `seq`, in the same transaction: `condition` it requires of the
    session item (beside `seq` being the one read), the session fields it `sets` and `removes`, the change's
    own `items` (transaction actions: a message's Put, an artifact's Update), and the channel streams it writes to
    (`channel_heads`: each one's head as read, which the write moves only while it is still there)."""

    condition: ex.Condition | None = None
    sets: Mapping[str, Any] = field(default_factory=dict)
    removes: tuple[str, ...] = ()
    items: tuple[Mapping[str, Any], ...] = ()
    # The head read of each channel stream the publish also writes to (its events carry `channel`).
    channel_heads: Mapping[str, int] = field(default_factory=dict)

    @property
    def marks(self) -> dict[str, Any]:
        """A publish that changes nothing but `seq` (a broadcast, a message) marks the item so: the lifecycle
        events' stream filter passes no such write (codec.session_write takes the mark off every other one)."""
        return {} if self.sets or self.removes else {codec.SEQ_ONLY: True}

    def applied_to(self, head: Session, events: int) -> Session:
        """The session as the write leaves it: `head` with these changes and `events` more seqs."""
        changed = {**self.sets, **dict.fromkeys(self.removes), codec.SEQ_ONLY: self.marks.get(codec.SEQ_ONLY)}
        return head.model_copy(update={**changed, "seq": head.seq + events})


@dataclass(frozen=True)
class Recovery:
    """The answer to "what did I miss since seq n": `events` in seq order when `recovered`, `missing` the seqs in
    that range that will never have an event (holes older code left); `next_since_seq` when more follow."""

    recovered: bool
    events: list[StreamEvent]
    next_since_seq: int | None
    missing: list[int] = field(default_factory=list)


NOT_RECOVERED = Recovery(False, [], None)


def encode_json(value: Any) -> str:
    """Compact JSON, never NaN or Infinity (not JSON: `JSON.parse` rejects them)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


F = TypeVar("F", bound=Mapping[str, Any])


def by_stream(frames: Sequence[F]) -> dict[str | None, list[F]]:
    """A publish's events by stream (None: the session's; else the channel they carry), each in the order given."""
    streams: dict[str | None, list[F]] = {}
    for frame in frames:
        streams.setdefault(frame.get("channel"), []).append(frame)
    return streams


def head_at(seq: int) -> ex.Condition:
    """A channel stream's head is at `seq` (its item is written by the first publish: none means 0)."""
    return _HEAD_SEQ.eq(seq) if seq else ex.NEW_ITEM | _HEAD_SEQ.eq(0)


def _at(seq: int) -> ex.Condition:
    """The session's `seq` is `seq` (a session older code wrote may have none before its first event)."""
    return _SEQ.eq(seq) if seq else _SEQ.absent() | _SEQ.eq(0)


class StreamLog(SeatLedger):
    def __init__(
        self,
        table_name: str,
        client: Any | None = None,
        clock: Callable[[], int] = now_ms,
        *,
        stream_window_seconds: int = 600,
        stream_max_events: int = 10000,
        cursor_seal: CursorSeal | None = None,
    ) -> None:
        super().__init__(table_name, client, clock, cursor_seal=cursor_seal)
        self.stream_window_seconds = stream_window_seconds  # 0: no stream events are kept
        self.stream_max_events = stream_max_events

    def read_head(self, session_id: str) -> Session:
        """The session item, strongly consistent: the head a publish numbers its events from (a keynote session's
        seat shards summed into its counts, which its events show)."""
        item = self._get_item(keys.session_key(session_id), consistent=True)
        if item is None:
            raise SessionNotFound(session_id)
        return self.with_seats(codec.decode_as(item, Session))

    def read_channel_head(self, session_id: str, channel: str) -> int:
        """The seq of a channel stream's latest event (0 before any), strongly consistent."""
        item = self._get_item(keys.channel_head_key(session_id, channel), consistent=True)
        return codec.decode_as(item, ChannelHead).seq if item else 0

    def _head_check(self, session_id: str, channel: str, seq: int) -> dict[str, Any]:
        """A transaction's ConditionCheck that a channel stream's head is still at `seq`."""
        return self._check_request(keys.channel_head_key(session_id, channel), head_at(seq))

    def append(self, head: Session, frames: Sequence[Mapping[str, Any]], change: HeadChange, *, token: str) -> Session:
        """Number `frames` and keep them, with `change`, in ONE transaction over every stream they are in: the
        session stream's events (no `channel`) carry head.seq + 1, + 2, ... and move the session's `seq`, only while
        it is still `head.seq`; each channel's events carry that channel's head (`change.channel_heads`) + 1, + 2, ...
        and move its head item, only while that is still the head read. With no session event the session item is
        only checked (`change.condition`), never written, and its `seq` may move meanwhile. So a publish is kept
        whole or not at all, in the order given within each stream. The session as written.

        `token` is the transaction's ClientRequestToken: derive it from the publish and the heads, so a repeat of
        this very request (botocore's retry of one that committed) succeeds without writing twice.
        StreamMoved: the session's head moved or refused `change.condition` (judge it from `.head`); ChannelMoved: a
        channel's head moved (read it again); ItemRefused: one of `change.items` refused; SessionNotFound: no
        session item. Nothing is written in each case."""
        streams = by_stream(frames)
        numbered_from: dict[str | None, int] = {None: head.seq}
        numbered_from.update(change.channel_heads)
        for channel, events in streams.items():
            first = numbered_from.get(channel, -1) + 1
            if channel not in numbered_from or [int(f["seq"]) for f in events] != [*range(first, first + len(events))]:
                raise ValueError(f"events of stream {channel!r} must carry the seqs from {first} on, in order")
        if not frames:
            raise ValueError("nothing to append")
        session_events = len(streams.get(None, []))
        session_action = self._session_claim(head, session_events, change)
        heads = [
            {"Update": self._channel_head_move(head.sessionId, channel, numbered_from[channel], len(events))}
            for channel, events in streams.items()
            if channel is not None
        ]
        now = self.clock()
        kept = [
            {"Put": self._new_item(codec.encode(self._stream_event(head.sessionId, int(f["seq"]), f, now, channel)))}
            for channel, events in streams.items()
            for f in events
            if self.stream_window_seconds
        ]
        try:
            self._transact([session_action, *map(dict, change.items), *heads, *kept], token=token)
        except ClientError as error:
            reasons = _cancellation_reasons(error)
            if reasons is None:
                raise
            if _failed(reasons, 0):
                found = reasons[0].get("Item")
                if not found:
                    raise SessionNotFound(head.sessionId) from None
                self._upgrade_if_legacy(found)
                raise StreamMoved(self.with_seats(codec.decode_as(found, Session))) from None
            for index in range(len(change.items)):
                if _failed(reasons, 1 + index):
                    raise ItemRefused(index, reasons[1 + index].get("Item")) from None
            channels = [channel for channel in streams if channel is not None]
            for n, channel in enumerate(channels, start=1 + len(change.items)):
                if _failed(reasons, n):
                    raise ChannelMoved(channel) from None
            raise
        return change.applied_to(head, session_events)

    def _session_claim(self, head: Session, events: int, change: HeadChange) -> dict[str, Any]:
        """The session item's part of a publish: its `seq` moved by `events` (and `change` applied), only while it is
        still `head.seq` and `change.condition` holds; with no session event, only `change.condition` checked."""
        if not events:
            if change.sets or change.removes:
                raise ValueError("a publish that changes the session moves its seq")
            condition = ex.ITEM_EXISTS if change.condition is None else ex.ITEM_EXISTS & change.condition
            return {"ConditionCheck": self._check_request(keys.session_key(head.sessionId), condition)}
        seen = _at(head.seq)
        condition = seen if change.condition is None else seen & change.condition
        after = {**change.sets, **change.marks, _SEQ.name: head.seq + events}
        # Index keys follow the fields they derive from (an end lists the session for its retention's end).
        update = codec.with_derived_keys(
            codec.partial_changes(Session, after, change.removes), change.applied_to(head, events)
        )
        return {"Update": self._update_request(keys.session_key(head.sessionId), update, condition)}

    def _channel_head_move(self, session_id: str, channel: str, seq: int, events: int) -> dict[str, Any]:
        """A channel stream's head moved from `seq` by `events`, only while it is still `seq` (a transaction's
        Update; the head item is written by its stream's first publish)."""
        after = ChannelHead(sessionId=session_id, channel=channel, seq=seq + events)
        return {
            "TableName": self.table_name,
            "Key": codec.serialize_key(keys.channel_head_key(session_id, channel)),
            **ex.params(update=codec.changes(after, ChannelHead.model_fields), condition=head_at(seq)),
        }

    def _stream_event(
        self, session_id: str, seq: int, frame: Mapping[str, Any], now: int, channel: str | None = None
    ) -> StreamEvent:
        return StreamEvent(
            sessionId=session_id,
            channel=channel,
            seq=seq,
            frame=encode_json(frame),
            createdAt=now,
            expiresAt=now // 1000 + self.stream_window_seconds,
        )

    def recover(
        self,
        session: Session,
        since_seq: int,
        epoch: str,
        *,
        limit: int = MAX_PAGE,
        channel: str | None = None,
        channel_seq: int = 0,
    ) -> Recovery:
        """What a client that has seen every event up to `since_seq` (of `epoch`) missed: a page of kept events
        in seq order, or `recovered=False` when that is not possible (another epoch, further back than the
        window or the count cap, ahead of the session, or a hole that may still be filled). One consistent Query
        a page; none when up to date. `channel`: of that channel's own stream instead, whose head is
        `channel_seq` (read_channel_head); its events were all kept by the one write that numbered them.

        The Query starts at `since_seq` itself: that event still being kept proves nothing between it and the
        first one returned expired. Events past their TTL that DynamoDB has not removed yet count as gone."""
        head = session.seq if channel is None else channel_seq
        if epoch != session.epoch or since_seq > head or head - since_seq > self.stream_max_events:
            return NOT_RECOVERED
        if since_seq == head:
            return Recovery(True, [], None)
        if channel is None:
            low, high = keys.stream_range(max(since_seq, 1), head)
        else:
            low, high = keys.channel_stream_range(channel, max(since_seq, 1), head)
        response = self.client.query(
            TableName=self.table_name,
            **ex.params(key_condition=ex.PK.eq(keys.session_partition(session.sessionId)) & ex.SK.between(low, high)),
            ConsistentRead=True,
            Limit=limit + 1,  # the anchor, then up to `limit` events
        )
        now = self.clock()
        kept = [
            e
            for e in (codec.decode_as(i, StreamEvent) for i in response.get("Items", []))
            if e.expiresAt >= now // 1000
        ]
        if not kept or kept[0].seq not in (since_seq, since_seq + 1):
            return NOT_RECOVERED
        after = [e for e in kept if e.seq > since_seq][:limit]
        reached = after[-1].seq if after else since_seq
        more = reached < head and (bool(response.get("LastEvaluatedKey")) or len(after) == limit)
        if not more and reached < head:
            return NOT_RECOVERED  # seqs past the last kept event: nothing later proves them lost for good
        missing: list[int] = []
        previous = since_seq
        for event in after:
            if event.seq > previous + 1:
                if now - event.createdAt <= WRITER_LIFETIME_MS:
                    return NOT_RECOVERED  # older code's writer may still keep it: not a hole the server vouches for
                missing += range(previous + 1, event.seq)
            previous = event.seq
        return Recovery(True, after, reached if more else None, missing)

    # ------------------------------------------------------------ recovering connections

    def hold_connection(self, connection: ConnectionEntry, *, for_ms: int) -> bool:
        """Keep live stream events from a connection while a recovery replays to it (fan-outs skip a connection
        whose `liveFromSeq`, or for its channel's events `liveFromChannelSeq`, is above the event's seq), both of its
        streams when it is on a channel, for `for_ms` at most (a recovery that dies never releases it). False: the
        connection is not registered."""
        held = {_LIVE_FROM.name: HELD, _HELD_UNTIL.name: self.clock() + for_ms}
        if connection.channel is not None:
            held[_LIVE_FROM_CHANNEL.name] = HELD
        try:
            self._update_item(
                codec.connection_item_key(connection),
                codec.partial_changes(ConnectionEntry, held),
                ex.ITEM_EXISTS,
                returns="UPDATED_NEW",
            )
        except ConditionFailed:
            return False
        return True

    def release_connection(
        self, head: Session, connection: ConnectionEntry, channel_seq: int | None = None
    ) -> tuple[Session, int | None] | None:
        """Let live events from `head.seq + 1` on (and of the connection's channel from `channel_seq + 1` on) reach
        a held connection, only while the session's seq is still `head.seq` and the channel's head still
        `channel_seq` (one transaction): None when released, else both heads as found (replay up to them, then
        release again). ConnectionNotFound when the connection is gone, SessionNotFound when the session is."""
        release = self._update_request(
            codec.connection_item_key(connection),
            codec.partial_changes(
                ConnectionEntry,
                _live_from(head.seq + 1, None if channel_seq is None else channel_seq + 1),
                (_HELD_UNTIL.name,),
            ),
            ex.ITEM_EXISTS,
        )
        check = self._check_request(keys.session_key(head.sessionId), ex.ITEM_EXISTS & _at(head.seq))
        actions: list[dict[str, Any]] = [{"Update": release}, {"ConditionCheck": check}]
        if channel_seq is not None and connection.channel is not None:
            actions.append({"ConditionCheck": self._head_check(head.sessionId, connection.channel, channel_seq)})
        try:
            self._transact(actions)
        except ClientError as error:
            reasons = _cancellation_reasons(error)
            if reasons is None:
                raise
            if _failed(reasons, 0):
                raise ConnectionNotFound() from None
            found = reasons[1].get("Item") if _failed(reasons, 1) else None
            if _failed(reasons, 1) and not found:
                raise SessionNotFound(head.sessionId) from None
            channel_found = reasons[2].get("Item") if len(actions) > 2 and _failed(reasons, 2) else None
            if found is None and channel_found is None:
                raise
            session = codec.decode_as(found, Session) if found else head
            return session, codec.decode_as(channel_found, ChannelHead).seq if channel_found else channel_seq
        return None

    def release_connection_now(
        self, connection: ConnectionEntry, live_from_seq: int, live_from_channel_seq: int | None = None
    ) -> None:
        """Let live events from `live_from_seq` on (of its channel: from `live_from_channel_seq`) reach a held
        connection, whatever the heads (a recovery that could not catch them, or failed: late live events beat a deaf
        connection)."""
        try:
            self._update_item(
                codec.connection_item_key(connection),
                codec.partial_changes(
                    ConnectionEntry, _live_from(live_from_seq, live_from_channel_seq), (_HELD_UNTIL.name,)
                ),
                ex.ITEM_EXISTS,
                returns="UPDATED_NEW",
            )
        except ConditionFailed:
            return  # gone: nothing to release


def _live_from(seq: int, channel_seq: int | None) -> dict[str, int]:
    """A release's marks: the first live seq of the session stream, and of the channel's when it was held."""
    return {_LIVE_FROM.name: seq, **({_LIVE_FROM_CHANNEL.name: channel_seq} if channel_seq is not None else {})}
