"""A keynote session's occupied/vacated events (seats on seat shards): a shard crossing zero settles the session's
occupancy item from every shard read strongly consistent, and the occupancy item's own record is what is announced,
so shards crossing at once (in either order) announce each transition exactly once."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from lifecycle_events.app import process
from lifecycle_events.mapping import crossing_of, events_of
from lifecycle_events.publisher import Publisher
from lifecycle_events.stream_batches import lambda_record
from session_schema import codec, keys
from session_schema.lifecycle import STREAM_FILTER_PATTERNS, STREAM_VIEW_TYPE
from session_schema.models import SeatShard, Session, SessionOccupancy
from session_store.occupancy_ledger import OccupancyLedger

from local.dynamodb_streams.filters import matches_any
from tests.lifecycle.test_handler import FakeEvents
from tests.support.aws import TABLE_NAME
from tests.support.stream_records import assert_envelope_matches, stream_record

SID, OWNER = "bright-hall-731", "alice"
SHARDS = 2


def keynote(**changes: Any) -> Session:
    base = Session(
        sessionId=SID, ownerId=OWNER, maxListeners=2_000, seatShards=SHARDS, channels=["es", "fr"], epoch="ep1",
        createdAt=1_000, updatedAt=1_000,
    )  # fmt: skip
    return base.model_copy(update=changes)


def shard(k: int, **counts: int) -> SeatShard:
    return SeatShard(
        sessionId=SID, shard=k, capacity=1_000, count=sum(counts.values()), channels=["es", "fr"],
        channelCounts={"es": counts.get("es", 0), "fr": counts.get("fr", 0)},
    )  # fmt: skip


class Keynote:
    """The table (moto) and the stream as the function sees it: each shard write is a record, and each write of
    the occupancy item becomes one too (as DynamoDB's stream would carry it)."""

    def __init__(self, ddb: Any) -> None:
        self.ddb = ddb
        self.ledger = OccupancyLedger(TABLE_NAME, ddb)
        self.events = FakeEvents()
        self.shards = {k: shard(k) for k in range(SHARDS)}
        self.occupancy: SessionOccupancy | None = None
        for item in (keynote(), *self.shards.values()):
            ddb.put_item(TableName=TABLE_NAME, Item=codec.encode(item))

    def write(self, k: int, **counts: int) -> dict[str, Any]:
        """A join or leave on shard `k`: its stream record (not yet processed)."""
        old, new = self.shards[k], shard(k, **counts)
        self.shards[k] = new
        self.ddb.put_item(TableName=TABLE_NAME, Item=codec.encode(new))
        return stream_record(old, new)

    def process(self, *records: dict[str, Any]) -> list[str]:
        """The shard records, then the occupancy item's records their settles wrote: the detail-types put."""
        before = len(self.events.put)
        for record in records:
            assert process([record], Publisher(self.events, "bus"), self.ledger) == {"batchItemFailures": []}
            found = self.ddb.get_item(TableName=TABLE_NAME, Key=codec.serialize_key(keys.occupancy_key(SID)))
            now = codec.decode_as(found["Item"], SessionOccupancy) if "Item" in found else None
            if now != self.occupancy:
                assert now is not None
                occupancy_record = stream_record(self.occupancy, now)
                assert matches_any(STREAM_FILTER_PATTERNS, occupancy_record)
                process([occupancy_record], Publisher(self.events, "bus"), self.ledger)
                self.occupancy = now
        for entry in (e for call in self.events.calls for e in call):
            assert_envelope_matches({"source": entry["Source"], "detail-type": entry["DetailType"],
                                     "detail": entry["Detail"]})  # fmt: skip
        return self.events.put[before:]


@pytest.fixture
def hall(ddb: Any) -> Keynote:
    return Keynote(ddb)


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_two_shards_crossing_at_once_occupy_once_in_either_order(hall: Keynote, order: tuple[int, int]) -> None:
    records = {0: hall.write(0, es=1), 1: hall.write(1, es=1)}  # both written before either is processed
    assert hall.process(*(records[k] for k in order)) == ["Session Occupied", "Channel Occupied"]
    assert hall.occupancy is not None and hall.occupancy.occupiedListeners == 2


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_the_last_leave_across_shards_vacates_once(hall: Keynote, order: tuple[int, int]) -> None:
    hall.process(hall.write(0, es=1), hall.write(1, fr=1))
    records = {0: hall.write(0), 1: hall.write(1)}
    assert hall.process(*(records[k] for k in order)) == ["Channel Vacated", "Channel Vacated", "Session Vacated"]


def test_one_shard_emptying_while_another_holds_listeners_vacates_nothing(hall: Keynote) -> None:
    hall.process(hall.write(0, es=1), hall.write(1, es=1))
    assert hall.process(hall.write(0)) == []
    assert hall.process(hall.write(1)) == ["Channel Vacated", "Session Vacated"]


def test_a_channels_first_listener_on_an_occupied_shard_occupies_the_channel(hall: Keynote) -> None:
    hall.process(hall.write(0, es=1))
    assert hall.process(hall.write(0, es=1, fr=1)) == ["Channel Occupied"]  # the shard's total crosses nothing
    assert hall.process(hall.write(1, fr=1)) == []  # fr already occupied on shard 0
    assert hall.process(hall.write(0, es=1)) == []  # fr still on shard 1
    assert hall.process(hall.write(1)) == ["Channel Vacated"]


def test_a_count_that_crosses_nothing_reads_nothing(hall: Keynote) -> None:
    hall.process(hall.write(0, es=1))
    record = hall.write(0, es=2)
    assert crossing_of(record) is None and events_of(record) == []


def test_a_retried_settle_finds_nothing_to_change(hall: Keynote) -> None:
    """A crash after the occupancy write: the retried record settles again and writes nothing, and the write's
    own record (already in the stream) is what announces the transition."""
    hall.write(0, es=1)
    assert hall.ledger.settle(SID) is not None
    assert hall.ledger.settle(SID) is None


def test_a_settle_that_loses_a_race_reads_again(hall: Keynote) -> None:
    """Another settle moving the occupancy item between this one's read and write: this one's conditional write is
    refused, it reads again and finds the item where the shards say (nothing more to write)."""
    hall.write(0, es=1)

    class Racing(OccupancyLedger):
        raced = False

        def _write_occupancy(self, after: SessionOccupancy, stored: SessionOccupancy | None) -> None:
            if not self.raced:
                self.raced = True
                OccupancyLedger(TABLE_NAME, hall.ddb).settle(SID)  # the other shard's settle wins
            super()._write_occupancy(after, stored)

    racing = Racing(TABLE_NAME, hall.ddb)
    assert racing.settle(SID) is None
    assert racing.raced


def test_a_keynote_session_items_counts_announce_no_occupancy() -> None:
    """Its occupancy comes from its occupancy item only (counts a deploy window left on the session item are
    summed in by the settle), so nothing is announced twice."""
    record = stream_record(keynote(), keynote(listenerCount=1, channelCounts={"es": 1}, muted=True))
    assert [e.detail_type.value for e in events_of(record)] == ["Session Updated"]


def test_the_filter_lets_crossings_and_occupancy_through_and_drops_shard_creation() -> None:
    quiet = SeatShard(sessionId=SID, shard=0, capacity=1_000)  # a session with no channels
    assert not matches_any(STREAM_FILTER_PATTERNS, stream_record(None, shard(0)))  # created with its session
    assert matches_any(STREAM_FILTER_PATTERNS, stream_record(quiet, quiet.model_copy(update={"count": 1})))
    assert matches_any(STREAM_FILTER_PATTERNS, stream_record(quiet.model_copy(update={"count": 1}), quiet))
    busy = quiet.model_copy(update={"count": 2})
    assert not matches_any(STREAM_FILTER_PATTERNS, stream_record(busy, busy.model_copy(update={"count": 3})))
    # With channels declared a channel's crossing cannot be told apart by a pattern: the function's check decides.
    assert matches_any(STREAM_FILTER_PATTERNS, stream_record(shard(0, es=1), shard(0, es=1, fr=1)))
    occupancy = SessionOccupancy(sessionId=SID, ownerId=OWNER, occupiedListeners=1)
    assert matches_any(STREAM_FILTER_PATTERNS, stream_record(None, occupancy))


def test_the_occupancy_write_stays_inside_what_the_role_allows(hall: Keynote) -> None:
    """The IAM conditions of infra/permissions.py (a sort key cannot be named there): an UpdateItem, in a session
    partition, of the occupancy item's own attribute names only, returning nothing."""
    from infra.functions import LIFECYCLE_EVENTS_FUNCTION
    from infra.permissions import FUNCTION_ACTIONS, KIND_CONDITIONS

    requests: list[tuple[str, dict[str, Any]]] = []

    def capture(params: dict[str, Any], model: Any, **_: Any) -> None:
        requests.append((model.name, params))

    hall.ddb.meta.events.register("before-parameter-build.dynamodb", capture, unique_id="occupancy-write")
    try:
        hall.process(hall.write(0, es=1))
    finally:
        hall.ddb.meta.events.unregister("before-parameter-build.dynamodb", unique_id="occupancy-write")
    writes = [params for name, params in requests if name not in ("GetItem", "BatchGetItem", "PutItem")]
    granted = FUNCTION_ACTIONS[LIFECYCLE_EVENTS_FUNCTION]
    assert {f"dynamodb:{name}" for name, _ in requests if name != "PutItem"} <= {
        *granted["occupancy_read"],
        *granted["occupancy_write"],
    }  # the test's own shard write is a PutItem
    (write,) = writes
    conditions = KIND_CONDITIONS["occupancy_write"]
    names = set(write["Key"]) | set(write.get("ExpressionAttributeNames", {}).values())
    assert names <= set(conditions["ForAllValues:StringEquals"]["dynamodb:Attributes"])
    assert write["Key"]["PK"]["S"].startswith(keys.SESSION_PREFIX) and "ReturnValues" not in write


def test_a_listener_old_code_seats_on_the_keynote_session_item_is_counted(hall: Keynote) -> None:
    """During a deploy, code before seat shards may seat a keynote listener on the session item: its count crossing
    zero settles the occupancy too, with the session item's counts summed in."""
    seated = keynote(listenerCount=1, channelCounts={"es": 1, "fr": 0})
    hall.ddb.put_item(TableName=TABLE_NAME, Item=codec.encode(seated))
    assert crossing_of(stream_record(keynote(), seated)) == SID
    assert hall.process(stream_record(keynote(), seated)) == ["Session Occupied", "Channel Occupied"]
    assert crossing_of(stream_record(keynote(), keynote(muted=True))) is None
    small = Session(sessionId=SID, ownerId=OWNER, maxListeners=10, epoch="ep1", createdAt=1, updatedAt=1)
    assert crossing_of(stream_record(small, small.model_copy(update={"listenerCount": 1}))) is None  # as before


def test_the_occupancy_items_creation_streams_one_whole_insert_that_the_function_announces(aws: None) -> None:
    """The settle creates the occupancy item with an UpdateItem. The table's stream (moto's, as the local stack serves
    it) carries it as DynamoDB does: one INSERT of the whole item, announced with nothing failed. moto used to stream
    an INSERT of the keys alone first (the empty item it puts before applying an update), which the function could
    not read: the batch failed at it, and a keynote join storm's retries gave up the records after it."""
    ddb = boto3.client("dynamodb")
    table = "keynote-stream"
    spec = {"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE}
    ddb.create_table(**keys.TABLE.create_table_kwargs(table), StreamSpecification=spec)
    for item in (keynote(), shard(0), shard(1), shard(0, es=1)):  # the last: a first listener on shard 0
        ddb.put_item(TableName=table, Item=codec.encode(item))
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
    (stream_shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]

    def delivered() -> list[dict[str, Any]]:
        """Every record so far that the mapping's filter lets through, as Lambda delivers it."""
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=stream_shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = [lambda_record(r, arn) for r in streams.get_records(ShardIterator=iterator)["Records"]]
        return [r for r in records if matches_any(STREAM_FILTER_PATTERNS, r)]

    events, ledger = FakeEvents(), OccupancyLedger(table, ddb)
    first = delivered()  # the session's INSERT, shard 0's crossing (which settles the occupancy item)
    assert process(first, Publisher(events, "bus"), ledger) == {"batchItemFailures": []}
    settled = delivered()[len(first) :]
    assert process(settled, Publisher(events, "bus"), ledger) == {"batchItemFailures": []}
    assert [(r["eventName"], r["dynamodb"]["Keys"]["SK"]["S"]) for r in settled] == [("INSERT", keys.OCCUPANCY)]
    assert codec.decode(settled[0]["dynamodb"]["NewImage"]) == ledger._occupancy(SID)
    assert events.put == ["Session Created", "Session Occupied", "Channel Occupied"]
