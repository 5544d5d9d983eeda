"""Read and write units of a live session's hot operations, for the current keys: the measured inputs of
`python -m bench keynote` (import `operation_units` and read its fields).

Computed, not observed: the items each operation writes or reads are built by the handlers' own codec
(`session_schema.codec`, so the keys, attributes and index entries are today's) and priced by DynamoDB's rules
(`aws_model/capacity.py`), split by the partition (partition-key value) each unit lands in, since a partition
and an item serve at most `limits.PARTITION_WRITE_UNITS` / `PARTITION_READ_UNITS` a second. The operations, as
the store performs them (docs/architecture.md, "DynamoDB requests per operation"):
- join: one TransactWriteItems: the session item's update (count + 1), the connection item and its lookup
  item put (2 units per KB each, transactional), plus their index entries;
- leave: the same transaction the other way (the two items deleted, count - 1);
- broadcast reads: the fan-out's strongly consistent Queries of the N connection items (a first page of
  `first_page`, then pages twice the one before up to `page`; a page filled to its Limit costs one more Query),
  whole items counted (a projection does not reduce what DynamoDB charges).
Sizes are today's items with a typical session and connection (`_session`, `_connection`): a session with a
longer title or more channels costs a little more per write.

Needs `lambdas/` on the import path (pytest and `python -m bench` put it there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_model import capacity
from aws_model.capacity import Item, KeySchema, Units

NOW_MS = 1_800_000_000_000  # a fixed instant: sizes depend on digit counts, not on the date
FIRST_PAGE = 100  # the fan-out's first Query page (session_runtime.fanout.FIRST_QUERY_PAGE)
PAGE = 1000  # its largest pages, after doubling (session_runtime.fanout.QUERY_PAGE)


@dataclass(frozen=True)
class OperationUnits:
    """One operation's units: in all (`total`) and by the partition each lands in (`by_partition`: a table
    partition-key value, or `index <name>: <value>` for a global secondary index's partition)."""

    total: Units
    by_partition: dict[str, Units] = field(default_factory=dict)

    @property
    def hottest(self) -> Units:
        """The most any one partition receives (the figure the per-partition limits bind on)."""
        return max(self.by_partition.values(), key=lambda u: (u.write, u.read), default=Units())


@dataclass(frozen=True)
class SessionOperationUnits:
    join: OperationUnits
    leave: OperationUnits
    broadcast_reads: OperationUnits
    listeners: int


def operation_units(
    listeners: int,
    *,
    partitions: int = 1,
    legacy_reads: bool | None = None,
    first_page: int = FIRST_PAGE,
    page: int = PAGE,
) -> SessionOperationUnits:
    """The units of one join, one leave and one broadcast's connection reads, in a session of `listeners` whose
    connections are spread over `partitions` connection partitions (`Session.connectionPartitions`).
    `legacy_reads`: the fan-out also reads the range where code before channels kept connections, in the
    session's own partition: one more Query, finding none (default: as the store does,
    `session_store.store.READ_LEGACY_CONNECTION_KEYS`)."""
    from session_schema import codec, keys

    schema = KeySchema(keys.PK, keys.SK, tuple((i.partition_key, i.sort_key) for i in keys.TABLE.indexes))
    session = _session(listeners, partitions)
    joined = session.model_copy(update={"listenerCount": listeners + 1, "lastRegisteredAt": NOW_MS})
    connection = _connection(session.sessionId, "listener-0", partitions)
    items = [codec.encode(connection.entry()), codec.encode(connection)]
    join = _writes(schema, [(codec.encode(session), codec.encode(joined))] + [(None, item) for item in items])
    leave = _writes(schema, [(codec.encode(joined), codec.encode(session))] + [(item, None) for item in items])
    by_partition: dict[int, list[Item]] = {p: [] for p in range(partitions)}
    for n in range(listeners):
        listener = _connection(session.sessionId, f"listener-{n}", partitions)
        by_partition[listener.partition].append(codec.encode(listener.entry()))
    reads = OperationUnits(Units())
    for p, connections in by_partition.items():
        reads = _merge(
            reads, _query_pages(keys.connections_partition(session.sessionId, p), connections, first_page, page)
        )
    if legacy_reads is None:
        from session_store.store import READ_LEGACY_CONNECTION_KEYS as legacy_reads
    if legacy_reads:
        reads = _merge(reads, _query_pages(keys.session_partition(session.sessionId), [], first_page, page))
    return SessionOperationUnits(join=join, leave=leave, broadcast_reads=reads, listeners=listeners)


def _session(listeners: int, partitions: int) -> Any:
    from session_schema.ids import new_epoch
    from session_schema.models import Session

    return Session(
        sessionId="quiet-river-482",
        ownerId="speaker-user-0001",
        title="A keynote",
        maxListeners=100_000,
        listenerCount=listeners,
        seq=1000,
        epoch=new_epoch(),
        createdAt=NOW_MS,
        updatedAt=NOW_MS,
        lastRegisteredAt=NOW_MS,
        connectionPartitions=partitions,
    )


def _connection(session_id: str, name: str, partitions: int) -> Any:
    """A listener's connection, with an API Gateway-shaped ID (12 base64 characters and `=`)."""
    import base64
    import hashlib

    from session_schema import keys
    from session_schema.models import Connection

    connection_id = base64.b64encode(hashlib.sha256(name.encode()).digest()[:10]).decode()[:15] + "="
    return Connection(
        connectionId=connection_id,
        sessionId=session_id,
        role="listener",
        connectedAt=NOW_MS,
        expiresAt=NOW_MS // 1000 + 3 * 3600,
        partition=keys.connection_partition_of(connection_id, partitions),
    )


def _partition(item: Item) -> str:
    from session_schema import keys

    return str(item[keys.PK]["S"])


def _writes(schema: KeySchema, changes: Iterable[tuple[Item | None, Item | None]]) -> OperationUnits:
    """A transaction's writes: each item's transactional units in its partition, its index writes in theirs."""
    by_partition: dict[str, Units] = {}
    total = Units()
    for before, after in changes:
        holder = after or before
        assert holder is not None
        table = Units(write=capacity.write(before, after, None, transactional=True).write)
        _add(by_partition, _partition(holder), table)
        total += table
        for (partition_key, sort_key), name in zip(schema.indexes, _index_names(), strict=True):
            spent = capacity.index_writes(before, after, [(partition_key, sort_key)], transactional=True)
            where = after if after and partition_key in after else before
            if spent and where and partition_key in where:
                _add(by_partition, f"index {name}: {where[partition_key]['S']}", Units(write=spent))
                total += Units(write=spent)
    return OperationUnits(total, by_partition)


def _index_names() -> list[str]:
    from session_schema import keys

    return [index.name for index in keys.TABLE.indexes]


def _query_pages(partition: str, items: Sequence[Item], first_page: int, page: int) -> OperationUnits:
    """The strongly consistent Query pages reading `items` (one partition's range): a first page of
    `first_page`, then each twice the one before up to `page`, and one more Query after a page filled to its Limit
    (session_store.dynamo.page_limits)."""
    from session_store.dynamo import page_limits

    total, start = Units(), 0
    for limit in page_limits(len(items), first_page, page):
        total += capacity.query_page(items[start : start + limit], "strong")
        start += limit
    return OperationUnits(total, {partition: total})


def _merge(a: OperationUnits, b: OperationUnits) -> OperationUnits:
    by_partition = dict(a.by_partition)
    for partition, units in b.by_partition.items():
        _add(by_partition, partition, units)
    return OperationUnits(a.total + b.total, by_partition)


def _add(by_partition: dict[str, Units], partition: str, units: Units) -> None:
    by_partition[partition] = by_partition.get(partition, Units()) + units
