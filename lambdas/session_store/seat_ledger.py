"""The seats of a keynote session (`Session.seatShards` > 0), kept on seat shards instead of the session item: every
read and write of a seat shard. A join claims a seat on one shard in its transaction (tries the next when that one
is full), a leave gives it back to the shard the connection holds it on, a channel switch moves the channel counts
on that shard, an end closes every shard; readers get the shards summed into the session's `listenerCount` and
`channelCounts` (`with_seats`), and the sweep sets each shard's counts to the connections registered on it.

Sessions whose `seatShards` is 0 (small ones, and every session older code wrote) keep their seats on the session
item: nothing here applies to them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from session_schema import codec, keys, layout
from session_schema.models import ConnectionEntry, SeatShard, Session

from . import expressions as ex
from .dynamo import ConditionFailed, Table

_COUNT = ex.field(SeatShard, "count")
_CAPACITY = ex.field(SeatShard, "capacity")
_CLOSED = ex.field(SeatShard, "closed")
_SHARD_CHANNELS = ex.field(SeatShard, "channels")
_SHARD_CHANNEL_COUNTS = ex.field(SeatShard, "channelCounts")
# A session's layout (seat shards, connection partitions) never changes once created, so a warm environment keeps
# it; an entry lapses well before a session ID could be drawn again (its item expires days after its end).
LAYOUT_TTL_SECONDS = 600
LAYOUT_CACHE_MAX = 4096
BATCH_GET_MAX = 100  # DynamoDB's BatchGetItem limit


class SeatLedger(Table):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._layouts: dict[str, tuple[int, int, float]] = {}

    # ------------------------------------------------------------ the session's layout, as last learned

    def known_layout(self, session_id: str) -> tuple[int, int]:
        """(connection partitions, seat shards) of the session as this environment last found it; (1, 0) (a small
        session's) when it has not: a write that guessed wrong is refused and hands back the real layout."""
        found = self._layouts.get(session_id)
        if found is None or found[2] < time.monotonic():
            return 1, 0
        return found[0], found[1]

    def learn_layout(self, session: Session) -> None:
        if len(self._layouts) >= LAYOUT_CACHE_MAX:
            self._layouts.clear()
        expires = time.monotonic() + LAYOUT_TTL_SECONDS
        self._layouts[session.sessionId] = (session.connectionPartitions, session.seatShards, expires)

    # ------------------------------------------------------------ reads

    def seat_shards(self, session: Session) -> list[SeatShard]:
        """The session's seat shards, strongly consistent (one BatchGetItem)."""
        wanted = [keys.seat_shard_key(session.sessionId, k) for k in range(session.seatShards)]
        return [codec.decode_as(item, SeatShard) for item in self._batch_get(wanted)]

    def with_seats(self, session: Session) -> Session:
        """The session with its seat shards summed into `listenerCount` and `channelCounts` (unchanged when its
        seats are on its own item). What the session item counts itself is added: a listener that code before seat
        shards seated there during the deploy (docs/data-model.md) is counted, and its leave takes it off there."""
        if not session.seatShards:
            return session
        shards = self.seat_shards(session)
        per_channel: Counter[str] = Counter(session.channelCounts)
        for shard in shards:
            per_channel.update(shard.channelCounts)
        counts = {name: per_channel.get(name, 0) for name in (*session.channels, *per_channel)}
        listeners = session.listenerCount + sum(s.count for s in shards)
        return session.model_copy(update={"listenerCount": listeners, "channelCounts": counts})

    def _batch_get(self, wanted: Sequence[Mapping[str, str]], projection: Sequence[ex.Attr] = ()) -> list[codec.Item]:
        """The items of `wanted` that exist: consistent BatchGetItems of 100 keys (unprocessed keys asked again)."""
        found: list[codec.Item] = []
        for start in range(0, len(wanted), BATCH_GET_MAX):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": [codec.serialize_key(k) for k in wanted[start : start + BATCH_GET_MAX]],
                    "ConsistentRead": True,
                    **ex.params(projection=projection),
                }
            }
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                found += response.get("Responses", {}).get(self.table_name, [])
                request = response.get("UnprocessedKeys") or {}
        return found

    # ------------------------------------------------------------ the writes' parts (transaction actions)

    def new_seat_shards(self, session: Session) -> list[dict[str, Any]]:
        """The Puts that create a new keynote session's shards, in the transaction that creates the session (none for
        a session whose seats are on its own item)."""
        if not session.seatShards:
            return []
        shards = [
            SeatShard(
                sessionId=session.sessionId,
                shard=k,
                capacity=capacity,
                channels=list(session.channels),
                channelCounts=dict.fromkeys(session.channels, 0),
            )
            for k, capacity in enumerate(layout.capacities(session.maxListeners, session.seatShards))
        ]
        return [{"Put": self._new_item(codec.encode(shard))} for shard in shards]

    def seat_claim(self, connection: ConnectionEntry) -> dict[str, Any]:
        """Take a seat on `connection.seat`'s shard: only while it is open, has a seat left and declares the
        connection's channel (a refusal hands back the shard: which of the three it was)."""
        condition = (_CLOSED.absent() | _CLOSED.eq(False)) & _COUNT.lt(_CAPACITY)
        if connection.channel is not None:
            condition &= _SHARD_CHANNELS.contains(connection.channel)
        return self._seat_update(connection, condition, 1)

    def seat_release(self, connection: ConnectionEntry) -> dict[str, Any]:
        """Give `connection`'s seat back (never below zero)."""
        counted = _COUNT.gt(0)
        if connection.channel is not None:
            counted &= _SHARD_CHANNEL_COUNTS.entry(connection.channel).gt(0)
        return self._seat_update(connection, counted, -1)

    def seat_switch(self, connection: ConnectionEntry, channel: str | None) -> dict[str, Any]:
        """Move `connection`'s seat from its channel's count to `channel`'s, while the shard is open and declares
        `channel`."""
        condition = _CLOSED.absent() | _CLOSED.eq(False)
        if channel is not None:
            condition &= _SHARD_CHANNELS.contains(channel)
        if connection.channel is not None:
            condition &= _SHARD_CHANNEL_COUNTS.entry(connection.channel).gt(0)
        moves = {connection.channel: -1, channel: 1}
        return self._update_request(
            self._seat_key(connection), codec.Changes(), condition, increments=channel_moves(moves)
        )

    def _seat_update(self, connection: ConnectionEntry, condition: ex.Condition, by: int) -> dict[str, Any]:
        return self._update_request(
            self._seat_key(connection),
            codec.Changes(),
            condition,
            add={_COUNT: by},
            increments=channel_moves({connection.channel: by}),
        )

    @staticmethod
    def _seat_key(connection: ConnectionEntry) -> dict[str, str]:
        if connection.seat is None:
            raise ValueError(f"connection {connection.connectionId} holds no seat on a shard")
        return keys.seat_shard_key(connection.sessionId, connection.seat)

    def seats_closed(self, session: Session, expires_at: int) -> tuple[dict[str, Any], ...]:
        """An end's Updates of every shard: closed (no join takes a seat from then on), expiring with the session."""
        change = codec.partial_changes(SeatShard, {"closed": True, "expiresAt": expires_at})
        return self._every_shard(session, change)

    def seats_declare(self, session: Session, channels: Sequence[str]) -> tuple[dict[str, Any], ...]:
        """A change of the declared channels, on every shard (what joins and switches check)."""
        return self._every_shard(session, codec.partial_changes(SeatShard, {"channels": list(channels)}))

    def _every_shard(self, session: Session, change: codec.Changes) -> tuple[dict[str, Any], ...]:
        return tuple(
            {"Update": self._update_request(keys.seat_shard_key(session.sessionId, k), change, ex.ITEM_EXISTS)}
            for k in range(session.seatShards)
        )

    # ------------------------------------------------------------ the sweep's repair

    def repair_seats(self, session: Session, listeners: Iterable[ConnectionEntry]) -> tuple[int, int] | None:
        """Set each shard's counts to the listener connections registered on it (`listeners`: every one of the
        session's, read after the shards): (was, now) in total when some shard was written, else None. Each write is
        conditional on the counts read, so a join or leave meanwhile (it moves them) leaves that shard to the next
        sweep."""
        shards = self.seat_shards(session)
        registered: dict[int, Counter[str | None]] = {shard.shard: Counter() for shard in shards}
        for connection in listeners:
            if connection.seat is not None and connection.seat in registered:
                registered[connection.seat][connection.channel] += 1
        repaired = False
        for shard in shards:
            found = registered[shard.shard]
            count = sum(found.values())
            per_channel = {name: found.get(name, 0) for name in shard.channelCounts} | {
                name: n for name, n in found.items() if name is not None
            }
            if count == shard.count and per_channel == shard.channelCounts:
                continue
            change = codec.partial_changes(SeatShard, {"count": count, "channelCounts": per_channel})
            condition = _COUNT.eq(shard.count) & _SHARD_CHANNEL_COUNTS.eq(shard.channelCounts)
            if self._write_if(keys.seat_shard_key(session.sessionId, shard.shard), change, condition):
                repaired = True
        if not repaired:
            return None
        was = sum(s.count for s in shards)
        return was, sum(sum(c.values()) for c in registered.values())

    def _write_if(self, key: Mapping[str, str], change: codec.Changes, condition: ex.Condition) -> bool:
        try:
            self._update_item(key, change, condition)
        except ConditionFailed:
            return False
        return True


def channel_moves(moves: Mapping[str | None, int]) -> dict[ex.Attr, int]:
    """The `channelCounts` entries to move, of a seat shard or a session item (the same attribute): a connection on
    no channel moves none."""
    return {_SHARD_CHANNEL_COUNTS.entry(c): by for c, by in moves.items() if c is not None and by}
