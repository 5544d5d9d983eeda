"""The local event source mapping: the stack's filter patterns on records of every kind, and Lambda's batch
semantics (retry from a reported record, bisect on error, bounded retries, then an on-failure record)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from session_schema import codec
from session_schema.functions import StreamSource
from session_schema.keys import TABLE
from session_schema.lifecycle import STREAM_FILTER_PATTERNS, STREAM_VIEW_TYPE
from session_schema.models import Connection, Message, Session, StreamEvent

from local.dynamodb_streams import BatchDelivery, matches_any
from tests.support.stream_records import stream_record

SID = "quiet-river-482"
SESSION = Session(sessionId=SID, ownerId="alice", maxListeners=10, epoch="ep1", createdAt=1, updatedAt=1)


def test_only_session_and_artifact_writes_pass_the_stacks_filters():
    from tests.lifecycle.test_mapping import artifact

    connection = Connection(connectionId="abc=", sessionId=SID, role="listener", connectedAt=1, expiresAt=2)
    message = Message(
        messageId="msg_01JABCDEFGHJKMNPQRSTVWXYZ0", sessionId=SID, senderId="alice", text="hi", createdAt=1
    )
    event = StreamEvent(sessionId=SID, seq=1, frame="{}", createdAt=1, expiresAt=2)
    passes = {
        "session created": stream_record(None, SESSION),
        "session updated": stream_record(SESSION, SESSION.model_copy(update={"muted": True})),
        "artifact updated": stream_record(artifact(), artifact(uploadedAt=2)),
    }
    blocked = {
        "connection": stream_record(None, connection),
        "connection lookup": stream_record(None, codec.encode(connection)),
        "message": stream_record(None, message),
        "stream event": stream_record(None, event),
        "session removed": stream_record(SESSION, None, ttl=True),
    }
    for name, record in passes.items():
        assert matches_any(STREAM_FILTER_PATTERNS, record), name
    for name, record in blocked.items():
        assert not matches_any(STREAM_FILTER_PATTERNS, record), name


def test_filter_rules_exists_and_prefix():
    record = {"dynamodb": {"Keys": {"SK": {"S": "ART#1"}}}}
    assert matches_any([{"dynamodb": {"Keys": {"SK": {"S": [{"prefix": "ART#"}]}}}}], record)
    assert matches_any([{"userIdentity": [{"exists": False}]}], record)
    assert not matches_any([{"userIdentity": [{"exists": True}]}], record)
    assert matches_any([], record), "no filter: every record"


class Function:
    """Fails every batch holding a record whose sequence number is in `poison` (as a raise), records the rest."""

    def __init__(self, poison: set[str] = frozenset(), report: bool = False) -> None:
        self.poison, self.report = poison, report
        self.batches: list[list[str]] = []
        self.done: list[str] = []

    def __call__(self, event: dict[str, Any]) -> Any:
        batch = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        self.batches.append(batch)
        for index, sequence in enumerate(batch):
            if sequence in self.poison:
                if self.report:  # what came before it is done: the answer names the record to retry from
                    self.done += batch[:index]
                    return {"batchItemFailures": [{"itemIdentifier": sequence}]}
                raise RuntimeError("function error")
        self.done += batch
        return {"batchItemFailures": []}


def _records(n: int) -> list[dict[str, Any]]:
    return [stream_record(SESSION, SESSION.model_copy(update={"listenerCount": i + 1})) for i in range(n)]


@pytest.fixture(autouse=True)
def no_waits(monkeypatch):
    monkeypatch.setattr("local.dynamodb_streams.poller._RETRY_WAIT_SECONDS", 0)


def test_bisect_isolates_the_poison_record_the_rest_is_delivered_in_order():
    records = _records(4)
    poison = records[2]["dynamodb"]["SequenceNumber"]
    function = Function({poison})
    delivery = BatchDelivery(function, StreamSource(retry_attempts=2), "arn:stream", "shard-1")
    delivery.deliver(records)
    sequences = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert function.done == [s for s in sequences if s != poison]
    (failure,) = delivery.failures
    info = failure["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == (poison, poison, 1)
    assert info["streamArn"] == "arn:stream" and failure["requestContext"]["condition"] == "RetryAttemptsExhausted"


def test_a_reported_failure_is_retried_from_that_record_without_repeating_the_ones_before():
    records = _records(3)
    poison = records[1]["dynamodb"]["SequenceNumber"]
    function = Function({poison}, report=True)
    delivery = BatchDelivery(function, StreamSource(retry_attempts=1, bisect_on_error=False), "arn", "shard")
    delivery.deliver(records)
    assert function.batches[0] == [r["dynamodb"]["SequenceNumber"] for r in records]
    assert function.batches[1][0] == poison, "the retry starts at the reported record"
    assert function.done == [records[0]["dynamodb"]["SequenceNumber"]]
    assert delivery.failures[0]["DDBStreamBatchInfo"]["batchSize"] == 2, "given up on from the reported record"
    assert len(function.batches) == 2, "one retry, as declared"


def test_a_cancelled_transaction_leaves_no_stream_records(aws):
    from local.dynamodb import make_moto_dynamodb_atomic

    make_moto_dynamodb_atomic()
    ddb = boto3.client("dynamodb")
    spec = {"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE}
    ddb.create_table(**TABLE.create_table_kwargs("streamed"), StreamSpecification=spec)
    first = codec.encode(SESSION)
    ddb.put_item(TableName="streamed", Item=first)
    second = codec.encode(SESSION.model_copy(update={"muted": True}))
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "streamed", "Item": second}},  # applied by moto, then rolled back
                {
                    "Put": {
                        "TableName": "streamed",
                        "Item": codec.encode(Session.model_copy(SESSION, update={"sessionId": "other-river-111"})),
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                },
            ]
        )
    arn = ddb.describe_table(TableName="streamed")["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [r["eventName"] for r in records] == ["INSERT"], "only the committed write"


def test_an_update_that_fails_after_moto_created_its_item_leaves_no_item_and_no_record(aws):
    """moto puts an update's new item (its keys alone) before applying the update; one refused then (too large) must
    leave the table and its stream as DynamoDB does, untouched (local/dynamodb/moto_streams.py)."""
    from local.dynamodb import make_moto_dynamodb_atomic

    make_moto_dynamodb_atomic()
    ddb = boto3.client("dynamodb")
    spec = {"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE}
    ddb.create_table(**TABLE.create_table_kwargs("streamed"), StreamSpecification=spec)
    key = {"PK": {"S": "SESSION#big-hall-123"}, "SK": {"S": "OCCUPANCY"}}
    with pytest.raises(ddb.exceptions.ClientError, match="maximum allowed size"):
        ddb.update_item(
            TableName="streamed", Key=key, UpdateExpression="SET big = :big",
            ExpressionAttributeValues={":big": {"S": "x" * 500_000}},
        )  # fmt: skip
    assert "Item" not in ddb.get_item(TableName="streamed", Key=key)
    arn = ddb.describe_table(TableName="streamed")["Table"]["LatestStreamArn"]
    streams = boto3.client("dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
    assert streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"] == []
