"""A keynote session's occupancy item (keys.occupancy_key): brought to what its seat shards say, by the lifecycle
events function when a shard's counts cross zero (docs/lifecycle-events.md, Keynote sessions).

A shard's crossing cannot decide alone whether the session became occupied or vacated: the shards are separate
partition keys, so their stream records are not ordered with each other, and two shards crossing 0 -> 1 at once
would each see the other occupied (or not) depending on timing. So each crossing reads the session and every shard
strongly consistent, and moves the occupancy item to what it read, by a write conditional on the item's
`occupancyVersion` as read before. Writes happen only when occupancy changes (occupied or not, the set of occupied
channels): the occupancy item's own stream records are the transitions, each announced once, in the session's
order; a retry (or the other shard's crossing) finds nothing to change.
"""

from __future__ import annotations

from session_schema import codec, keys
from session_schema.models import Session, SessionOccupancy

from . import expressions as ex
from .dynamo import ConditionFailed
from .seat_ledger import SeatLedger

_VERSION = ex.field(SessionOccupancy, "occupancyVersion")
# A concurrent settle of the same session wins a race at most once per transition it writes; a few attempts cover
# every shard crossing at once. Past them the batch fails at this record and the mapping retries it.
SETTLE_ATTEMPTS = 5


class OccupancyLost(Exception):
    """Every attempt found the occupancy item moved by another settle in between."""


class OccupancyLedger(SeatLedger):
    def settle(self, session_id: str) -> SessionOccupancy | None:
        """Bring the session's occupancy item to its shards' counts: the item written, or None when nothing changed
        (or the session has no seat shards, or is gone)."""
        for _ in range(SETTLE_ATTEMPTS):
            stored = self._occupancy(session_id)
            found = self._get_item(keys.session_key(session_id), consistent=True)
            if found is None:
                return None
            session = codec.decode_as(found, Session)
            if not session.seatShards:
                return None
            seen = self.with_seats(session)
            after = SessionOccupancy(
                sessionId=session_id,
                ownerId=session.ownerId,
                occupiedListeners=seen.listenerCount,
                occupiedChannels={name: n for name, n in (seen.channelCounts or {}).items() if n > 0},
                occupancyVersion=stored.occupancyVersion + 1 if stored is not None else 1,
            )
            if (stored or SessionOccupancy(sessionId=session_id, ownerId=session.ownerId)).same_occupancy(after):
                return None  # no item yet is unoccupied
            try:
                self._write_occupancy(after, stored)
            except ConditionFailed:
                continue
            return after
        raise OccupancyLost(f"the occupancy of session {session_id} kept moving")

    def _occupancy(self, session_id: str) -> SessionOccupancy | None:
        item = self._get_item(keys.occupancy_key(session_id), consistent=True)
        return codec.decode_as(item, SessionOccupancy) if item is not None else None

    def _write_occupancy(self, after: SessionOccupancy, stored: SessionOccupancy | None) -> None:
        """An UpdateItem (not a Put: the events function may only ever set these attributes, never replace an item),
        on the version read (absent: the item did not exist)."""
        change = codec.changes(after, SessionOccupancy.model_fields)
        change.set[keys.KIND_ATTRIBUTE] = codec.value(codec.KIND_OF[SessionOccupancy])
        condition = _VERSION.absent() if stored is None else _VERSION.eq(stored.occupancyVersion)
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=codec.serialize_key(keys.occupancy_key(after.sessionId)),
                **ex.params(update=change, condition=condition),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            raise ConditionFailed(None) from None
