"""`python -m bench keynote`: what one session and one Region serve at AWS's default quotas, before and after the
keynote redesign (seat shards, connection partitions, compact connection entries), in one run.

Measured: real connection, session and seat-shard items written by the real store (against moto) for `--listeners`
listeners in each layout (before: each connection's entry in its session then rewritten whole, as the code before
compact entries wrote it, and read by today's fan-out as such entries are in a deploy's first two hours), their
DynamoDB units computed from item sizes (aws_model/capacity.py, through the cost bench's meter: moto's own consumed
capacity is a constant). Simulated: everything at keynote scale, from those
per-operation costs and the declared quotas (aws_model/limits.py): joins a second per session and per Region, a
100,000-listener reconnect storm draining (clients as they were, and with the session-sized spread and the full
session's Retry-After), read units per broadcast at 10,000 and 100,000 listeners, the largest session and broadcast
rate one Region serves, and the ceiling after that. Met: a join storm of `--real-listeners` real WebSocket
listeners through the local stack with the limits on, scaled (`serve --aws-limits`; bench/_keynote_listeners.py),
next to the same storm simulated at that scale.
"""

from __future__ import annotations

import argparse
import base64
import heapq
import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_model import capacity, limits

from . import _common, _keynote_listeners

# tests/bench: every benchmark runs once at a tiny size (the real phase too: 20 listeners, 10 admitted a second)
SMOKE_ARGS = ["--listeners", "30", "--storm", "2000", "--real-listeners", "20", "--aws-limits-scale", "0.02"]
TABLE_NAME = "keynote-bench"
SIZES = (10_000, 100_000)
FIRST_PAGE, PAGE = 100, 1000  # the fan-out's first and largest Query Limits (session_runtime/fanout.py)


@dataclass(frozen=True)
class Layout:
    name: str
    seat_shards: int | None  # None: as the store sizes it
    partitions: int | None
    whole_entries: bool = False  # each connection's entry in its session holds the whole connection (the old shape)


BEFORE = Layout("before: seats on the session item, 1 connection partition, whole connection entries", 0, 1, True)
AFTER = Layout("after: seat shards, connection partitions (sized by maxListeners), compact entries", None, None)


@dataclass(frozen=True)
class Measured:
    layout: Layout
    seat_shards: int
    partitions: int
    join: capacity.Units  # per listener join, all items
    join_hot_write: float  # write units a join puts on the one item every join of the session writes
    join_hot_index_write: float  # ... and on the index partition that item's copies go to (GSI1: the owner's)
    leave: capacity.Units
    connection_bytes: float  # a connection item, whole, as the fan-out's Query is billed
    broadcast_reads: float  # read units of one whole-session fan-out read, at the measured size
    publish: capacity.Units  # a broadcast besides its fan-out: the head read (with the seat shards) and its write


def _connection_id(rng: random.Random) -> str:
    """An ID shaped as API Gateway's (base64 of random bytes, 16 characters)."""
    return base64.b64encode(rng.randbytes(12)).decode()


def measure(layout: Layout, listeners: int, rng: random.Random) -> Measured:
    import boto3

    from session_schema import codec, keys
    from session_schema.models import Connection
    from session_store.store import SessionStore

    from ._capacity_meter import CapacityMeter

    ddb = boto3.client("dynamodb", region_name="us-east-1")
    reader = boto3.client("dynamodb", region_name="us-east-1")
    if TABLE_NAME not in ddb.list_tables()["TableNames"]:
        ddb.create_table(**keys.TABLE.create_table_kwargs(TABLE_NAME))
    table = keys.TABLE
    schema = capacity.KeySchema(
        table.partition_key, table.sort_key, tuple((i.partition_key, i.sort_key) for i in table.indexes)
    )
    meter = CapacityMeter(ddb, reader, schema)
    store = SessionStore(TABLE_NAME, client=ddb)
    session, _ = store.create_session(
        owner_id="speaker-1",
        title="Keynote",
        source_language="en",
        max_listeners=SIZES[-1],
        seat_shards=layout.seat_shards,
        connection_partitions=layout.partitions,
    )

    def listener() -> Connection:
        now = store.clock()
        return Connection(
            connectionId=_connection_id(rng),
            sessionId=session.sessionId,
            role="listener",
            connectedAt=now,
            expiresAt=now // 1000 + 7200,
            protocolVersion=2,
        )

    joined = [store.register_connection(listener())]  # learns the session's layout, as a warm environment has
    joined.append(store.register_connection(listener()))
    seat = joined[-1].seat  # the hot item: the session item, or the seat shard it took
    hot_key = keys.session_key(session.sessionId) if seat is None else keys.seat_shard_key(session.sessionId, seat)

    def hot_item() -> Any:
        return reader.get_item(TableName=TABLE_NAME, Key=codec.serialize_key(hot_key), ConsistentRead=True)["Item"]

    old = hot_item()
    one = listener()
    if seat is not None:  # the next join onto that very shard
        while layout_seat(one, session.seatShards) != seat:
            one = listener()
    joined.append(store.register_connection(one))
    new = hot_item()
    hot_write = capacity.write(old, new, transactional=True).write
    hot_index_write = capacity.write(old, new, schema, transactional=True).write - hot_write
    with meter.metering():
        for _ in range(listeners - 3):
            joined.append(store.register_connection(listener()))
    join = _per(meter.units, listeners - 3)
    with meter.metering():
        store.unregister(joined.pop())
    leave = meter.units
    if layout.whole_entries:  # set-up, not metered: the entries as the code before compact entries wrote them
        _rewrite_whole(ddb, joined)
    scope = session.connection_scope()
    with meter.metering():
        targets = store.iter_connection_targets(
            session.sessionId, page_size=PAGE, first_page_size=FIRST_PAGE, scope=scope
        )
        read = list(targets)
    assert len(read) == listeners - 1, "the fan-out's read found every registered listener"  # one left
    broadcast_reads = meter.units.read
    with meter.metering():
        head = store.read_head(session.sessionId)
        frame = {"type": "broadcast", "data": "caption", "ts": store.clock(), "seq": head.seq + 1}
        store.append(head, [frame], store.broadcast_change(head), token=f"bench-{head.seq}")
    publish = meter.units
    sizes = [
        capacity.item_size(item)
        for r in scope.ranges()
        for item in reader.query(
            TableName=TABLE_NAME,
            KeyConditionExpression="PK = :p AND begins_with(SK, :s)",
            ExpressionAttributeValues={":p": {"S": r.partition}, ":s": {"S": r.prefix}},
        )["Items"]
    ]
    return Measured(
        layout,
        session.seatShards,
        session.connectionPartitions,
        join,
        hot_write,
        hot_index_write,
        leave,
        sum(sizes) / len(sizes),
        broadcast_reads,
        publish,
    )


def _rewrite_whole(ddb: Any, connections: list[Any]) -> None:
    """Each connection's entry in its session put again whole (session_schema.codec.legacy_connection_item)."""
    from session_schema import codec

    items = [codec.legacy_connection_item(connection) for connection in connections]
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        ddb.batch_write_item(RequestItems={TABLE_NAME: batch})


def layout_seat(connection: Any, shards: int) -> int:
    """The shard a join tries first (session_schema.layout.try_order)."""
    from session_schema.layout import try_order

    return try_order(connection.connectionId, shards)[0]


def _per(units: capacity.Units, n: int) -> capacity.Units:
    return capacity.Units(units.read / max(1, n), units.write / max(1, n))


# ---------------------------------------------------------------- the model, at keynote scale


def fanout_reads(listeners: int, item_bytes: float, partitions: int) -> tuple[float, float]:
    """(read units of one broadcast's Queries in all, on the busiest partition): each partition's connections read
    in pages of FIRST_PAGE items, then each twice the one before up to PAGE items (or 1 MB), each page rounded up to
    4 KB, strongly consistent."""
    from session_store.dynamo import next_page_limit

    per_partition = math.ceil(listeners / partitions)
    units, left, limit = 0.0, per_partition, FIRST_PAGE
    page_items = min(PAGE, int(limits.QUERY_PAGE.value // item_bytes))
    while left > 0:
        take = min(left, limit)
        units += capacity.read_units(math.ceil(take * item_bytes), "strong")
        left, limit = left - take, next_page_limit(limit, page_items)
    return units * partitions, units


def session_join_rate(m: Measured) -> tuple[float, str]:
    """Joins a second one session takes, and what caps it."""
    caps = {
        "API Gateway new connections": limits.NEW_CONNECTIONS_PER_SECOND.value,
        "the item every join writes": limits.ITEM_WRITE_UNITS.value / m.join_hot_write * max(1, m.seat_shards),
        "its index copies' partition (GSI1)": (
            limits.PARTITION_WRITE_UNITS.value / m.join_hot_index_write if m.join_hot_index_write else math.inf
        ),
        "the connection partitions' writes": limits.PARTITION_WRITE_UNITS.value * m.partitions / 2,
    }
    cap = min(caps, key=lambda name: caps[name])
    return caps[cap], cap


def storm(
    listeners: int,
    rate: float,
    first: Callable[[random.Random], float],
    retry: Callable[[int, random.Random], float],
    seed: int = 1,
) -> tuple[float, int]:
    """Every listener reconnects at `first(rng)` seconds; `rate` joins a second are admitted (a token bucket, no
    burst), the others are refused and retry after `retry(attempt, rng)`. (seconds until the last is in, refusals)."""
    rng = random.Random(seed)
    pending = [(first(rng), 0) for _ in range(listeners)]
    heapq.heapify(pending)
    admitted_until, refusals, last = 0.0, 0, 0.0
    while pending:
        at, attempt = heapq.heappop(pending)
        slot = max(at, admitted_until)
        if slot - at < 1.0:  # a seat within the second the attempt is answered in: admitted
            admitted_until = slot + 1.0 / rate
            last = slot
        else:
            refusals += 1
            heapq.heappush(pending, (at + retry(attempt + 1, rng), attempt + 1))
    return last, refusals


def _equal_jitter(initial: float, cap: float) -> Callable[[int, random.Random], float]:
    def delay(attempt: int, rng: random.Random) -> float:
        step = min(cap, initial * 2 ** max(0, attempt - 1))
        return step / 2 + rng.random() * step / 2

    return delay


def report(before: Measured, after: Measured, listeners: int, storm_size: int) -> str:
    out = []
    rows = []
    for m in (before, after):
        rows.append([
            m.layout.name, m.seat_shards, m.partitions, m.join.write, m.join_hot_write, m.join_hot_index_write,
            m.leave.write,
            round(m.connection_bytes), m.broadcast_reads, m.publish.read, m.publish.write,
        ])  # fmt: skip
    out.append(_common.table(
        f"Measured per operation ({listeners} listeners per layout, real items, units from item sizes)",
        ["layout", "seat shards", "partitions", "WCU per join", "WCU per join on the hot item",
         "on its index copies", "WCU per leave",
         "connection item bytes", f"RCU to read {listeners - 1} connections", "broadcast RCU besides",
         "broadcast WCU"],
        rows,
        ["a session of maxListeners 100,000; a join is one transaction (2 units per KB per item); the hot item is "
         "the session item before, one seat shard after (each join writes one of them)",
         "a broadcast besides its fan-out: the head read (after: with one consistent BatchGetItem of the seat "
         "shards, for the counts its events show) and one transaction moving the seq and keeping the event"],
    ))  # fmt: skip

    rows = []
    for size in SIZES:
        for m in (before, after):
            partitions = m.partitions if m is before else _partitions_for(size)
            total, busiest = fanout_reads(size, m.connection_bytes, partitions)
            rows.append([
                size, m.layout.name.split(":")[0], partitions, total, busiest,
                limits.PARTITION_READ_UNITS.value / busiest,
            ])  # fmt: skip
    out.append(_common.table(
        "Read units per broadcast (whole-session fan-out, strongly consistent)",
        ["listeners", "layout", "partitions", "RCU per broadcast", "RCU on the busiest partition",
         "broadcasts/s the partitions allow"],
        rows,
        ["before: one partition, each entry the whole connection (as the code before compact entries wrote it); "
         "after: partitions as the store sizes them for that many listeners (layout.connection_partitions_for), "
         "each entry compact (what the fan-out and the sweep read; the rest on the lookup item). DynamoDB bills a "
         "Query by whole items: the compact entries cut the total, the partitions spread it",
         "eventually consistent reads would halve it; not taken: the fan-out after an end must see every "
         "listener registered before it (no test shows an eventually consistent read loses none)"],
    ))  # fmt: skip

    joins_before, cap_before = session_join_rate(before)
    joins_after, cap_after = session_join_rate(after)
    clients_before = _equal_jitter(0.5, 30.0)  # the clients' backoff on a refusal (as before the change)
    drain_before, refused_before = storm(storm_size, joins_before, lambda r: r.random() * 0.5, clients_before)
    spread = min(300.0, storm_size / limits.NEW_CONNECTIONS_PER_SECOND.value)
    drain_after, refused_after = storm(storm_size, joins_after, lambda r: r.random() * spread, clients_before)
    out.append(_common.table(
        f"Joins, and a {storm_size:,}-listener reconnect storm draining into one session",
        ["layout", "joins/s one session takes", "capped by", "storm drained in s", "refused attempts"],
        [
            [before.layout.name.split(":")[0], joins_before, cap_before, drain_before, refused_before],
            [after.layout.name.split(":")[0] + " (+ session-sized spread)", joins_after, cap_after, drain_after,
             refused_after],
        ],
        ["before: clients retry at once with 0.5 s doubling backoff (equal jitter, 30 s cap); after: each first "
         "waits a random part of listeners / 500 s (clients' reconnect_spread), then the same backoff",
         "a refused attempt is a $connect (an invocation, a failed transaction) or an API Gateway 429"],
    ))  # fmt: skip

    deliveries = limits.ACCOUNT_REQUESTS_PER_SECOND.value  # every post is a management API request
    _, busiest = fanout_reads(SIZES[-1], after.connection_bytes, _partitions_for(SIZES[-1]))
    total, _ = fanout_reads(SIZES[-1], after.connection_bytes, _partitions_for(SIZES[-1]))
    ceilings = {
        "API Gateway account requests (each post to a connection is one)": deliveries,
        "DynamoDB new on-demand table reads (fan-out Queries)": limits.ON_DEMAND_WARM_READS.value / total * SIZES[-1],
        "DynamoDB per-partition reads (connection partitions)": limits.PARTITION_READ_UNITS.value / busiest * SIZES[-1],
    }
    ordered = sorted(ceilings.items(), key=lambda kv: kv[1])
    out.append(_common.table(
        "One Region at default quotas: deliveries a second, ceiling by ceiling",
        ["ceiling", "deliveries/s", "100,000 listeners: broadcasts/s", "broadcast/s 1: largest session"],
        [[name, rate, rate / SIZES[-1], rate] for name, rate in ordered],
        [f"the first is the Region's ceiling; ask AWS to raise it, then the next applies. Joins: "
         f"{limits.NEW_CONNECTIONS_PER_SECOND.value:,.0f} new connections/s per account and Region (adjustable): "
         f"100,000 listeners take {SIZES[-1] / limits.NEW_CONNECTIONS_PER_SECOND.value:,.0f} s to connect",
         "Lambda: 1,000 concurrent executions by default; the fan-out's workers post from as many environments "
         "as shards (bench fanout measures posts per environment)"],
    ))  # fmt: skip
    return "\n".join(out)


def _partitions_for(listeners: int) -> int:
    from session_schema.layout import connection_partitions_for

    return connection_partitions_for(listeners)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench keynote")
    parser.add_argument("--listeners", type=int, default=2000, help="real connection items per layout")
    parser.add_argument("--storm", type=int, default=100_000, help="listeners reconnecting at once")
    parser.add_argument(
        "--real-listeners", type=int, default=300, help="real WebSocket listeners in the join storm (0: skip it)"
    )
    parser.add_argument(
        "--aws-limits-scale", type=float, default=0.05, help="the local stack's AWS limits, scaled (serve's flag)"
    )
    args = parser.parse_args(argv)
    _common.prepare()
    from moto import mock_aws

    rng = random.Random(int(os.environ.get("BENCH_SEED", "7")))
    with mock_aws():
        before = measure(BEFORE, args.listeners, rng)
        after = measure(AFTER, args.listeners, rng)
    assert after.join_hot_write <= before.join_hot_write, "a join writes a smaller hot item after"
    print(report(before, after, args.listeners, args.storm))
    if args.real_listeners <= 0:
        return 0
    # After moto's in-process mock is gone: the stack's own clients must reach its services.
    real = _keynote_listeners.run(args.real_listeners, args.aws_limits_scale)
    drained, refused = storm(real.listeners, real.gateway_rate, lambda r: 0.0, _client_backoff())
    print(_keynote_listeners.table(real, drained, refused, args.storm))
    for problem in real.problems:
        print(f"real listeners: {problem}")
    return 1 if real.problems else 0


def _client_backoff() -> Callable[[int, random.Random], float]:
    """The Python client's own retry schedule after its `attempt`-th failed handshake (client.py: the delay
    after failure n is backoff_delay(n - 1), its default options)."""
    from live_sessions_client.backoff import BackoffOptions, backoff_delay

    return lambda attempt, rng: backoff_delay(attempt - 1, BackoffOptions(), rng.random)
