"""The redrive: a failed batch's pointers (the mapping's dead-letter record) read back from the stream and handed
to the function as the mapping would; the queue message goes only once the whole batch is announced."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from lifecycle_events.app import process
from lifecycle_events.publisher import Publisher
from lifecycle_events.redrive import redrive
from session_schema import codec
from session_schema.keys import TABLE
from session_schema.lifecycle import STREAM_VIEW_TYPE
from session_schema.models import Session

from tests.lifecycle.test_handler import FakeEvents

SID = "quiet-river-482"


@pytest.fixture
def stream(aws) -> tuple[Any, str, str]:
    """A table like the stack's, with its stream; three writes to one session: create, first listener, pause."""
    ddb = boto3.client("dynamodb")
    kwargs = TABLE.create_table_kwargs("redrive-test")
    ddb.create_table(**kwargs, StreamSpecification={"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE})
    arn = ddb.describe_table(TableName="redrive-test")["Table"]["LatestStreamArn"]
    base = Session(sessionId=SID, ownerId="alice", maxListeners=10, epoch="ep1", createdAt=1, updatedAt=1)
    joined = base.model_copy(update={"listenerCount": 1})
    for version in (base, joined, joined.model_copy(update={"muted": True})):
        ddb.put_item(TableName="redrive-test", Item=codec.encode(version))
    # moto routes the stream API by its classic host; botocore's default is an account-based one it does not know
    streams = boto3.client("dynamodbstreams", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    return streams, arn, shard["ShardId"]


def _dead_letter(streams: Any, arn: str, shard: str) -> dict[str, Any]:
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    first, last = records[0]["dynamodb"]["SequenceNumber"], records[-1]["dynamodb"]["SequenceNumber"]
    info = {"shardId": shard, "startSequenceNumber": first, "endSequenceNumber": last, "streamArn": arn}
    return {"requestContext": {"condition": "RetryAttemptsExhausted"}, "DDBStreamBatchInfo": {**info, "batchSize": 3}}


def test_a_failed_batch_is_read_back_announced_and_its_message_deleted(stream):
    streams, arn, shard = stream
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="lifecycle-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(_dead_letter(streams, arn, shard)))
    events = FakeEvents()
    invoked: list[dict[str, Any]] = []

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        invoked.append(event)
        return process(event["Records"], Publisher(events, "bus"))

    report = redrive(sqs, streams, queue, invoke)
    assert report.left == [] and len(report.redriven) == 1
    assert events.put == ["Session Created", "Session Occupied", "Session Updated"]
    (event,) = invoked
    assert all(isinstance(r["dynamodb"]["ApproximateCreationDateTime"], float) for r in event["Records"])
    assert {r["eventSourceARN"] for r in event["Records"]} == {arn}, "as Lambda delivers them"
    # the message is gone, not merely hidden
    assert (
        sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessagesNotVisible"
        ]
        == "0"
    )


def test_a_batch_that_fails_again_stays_queued_with_the_reason(stream):
    streams, arn, shard = stream
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="lifecycle-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(_dead_letter(streams, arn, shard)))
    report = redrive(
        sqs, streams, queue, lambda event: process(event["Records"], Publisher(FakeEvents("Session Updated"), "b"))
    )
    assert report.redriven == [] and "failed again" in report.left[0]
