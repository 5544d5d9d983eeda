"""The lifecycle events' stream filter against the store's real writes (moto's stream of a streamed table): a
broadcast or a message, which move only the session's `seq`, invoke nothing, and every write after one that a
lifecycle event is about (a count, a status, a title, channels, an end) still passes."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from lifecycle_events.mapping import events_of
from lifecycle_events.stream_batches import lambda_record
from session_schema import keys
from session_schema.keys import TABLE
from session_schema.lifecycle import STREAM_FILTER_PATTERNS, STREAM_VIEW_TYPE
from session_schema.models import Connection
from session_schema.status import SessionStatus
from session_store.store import SessionStore

from local.dynamodb_streams import matches_any
from tests.support.aws import fixed_cursor_seal
from tests.support.stream_writes import append_message, broadcast, change_status, update_session

STREAMED = "streamed"


class StreamedTable:
    """A table with its stream on, and what its stream carried for the session item since the last `take`."""

    def __init__(self) -> None:
        from local.dynamodb import make_moto_dynamodb_atomic

        make_moto_dynamodb_atomic()  # the local stack's moto: one stream record per write, as DynamoDB's
        self.ddb = boto3.client("dynamodb", region_name="us-east-1")
        spec = {"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE}
        self.ddb.create_table(**TABLE.create_table_kwargs(STREAMED), StreamSpecification=spec)
        self.store = SessionStore(STREAMED, client=self.ddb, cursor_seal=fixed_cursor_seal())
        self.arn = arn = self.ddb.describe_table(TableName=STREAMED)["Table"]["LatestStreamArn"]
        self.streams = boto3.client(
            "dynamodbstreams", region_name="us-east-1", endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com"
        )
        (shard,) = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        self.iterator = self.streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def take(self) -> list[dict[str, Any]]:
        """The session items' records written since the last call, as Lambda hands them to the function."""
        answer = self.streams.get_records(ShardIterator=self.iterator)
        self.iterator = answer["NextShardIterator"]
        records = [lambda_record(record, self.arn) for record in answer["Records"]]
        return [r for r in records if keys.is_session_key({k: v["S"] for k, v in r["dynamodb"]["Keys"].items()})]


@pytest.fixture
def table(aws) -> StreamedTable:
    return StreamedTable()


def _passing(records: list[dict[str, Any]]) -> list[bool]:
    return [matches_any(STREAM_FILTER_PATTERNS, record) for record in records]


def _listener(session_id: str, n: int) -> Connection:
    return Connection(
        connectionId=f"conn{n:03d}=", sessionId=session_id, role="listener", connectedAt=1, expiresAt=9_999_999_999
    )


def test_a_broadcast_or_a_message_invokes_nothing_and_every_change_after_one_passes(table):
    store = table.store
    session, _ = store.create_session(
        owner_id="alice", title="Keynote", source_language="en", max_listeners=10, channels=("es",)
    )
    sid = session.sessionId
    assert _passing(table.take()) == [True], "created"

    broadcast(store, sid, {"caption": "hello"})
    append_message(store, sid, "alice", "hi")
    assert _passing(table.take()) == [False, False], "a broadcast and a message move only seq"

    # Each write below follows a publish that left the item marked: each must take the mark off and pass.
    store.register_connection(_listener(sid, 1))
    broadcast(store, sid)
    update_session(store, sid, title="Keynote, part two")
    broadcast(store, sid)
    store.unregister_connection("conn001=")
    broadcast(store, sid)
    change_status(store, sid, SessionStatus.PAUSED)
    change_status(store, sid, SessionStatus.ENDED)
    records = table.take()
    assert _passing(records) == [True, False, True, False, True, False, True, True]

    # What the function makes of the writes that pass: exactly the events they are about, nothing lost.
    announced = [
        event.detail_type.value
        for record, passes in zip(records, _passing(records), strict=True)
        if passes
        for event in events_of(record)
    ]
    assert announced == [
        "Session Occupied", "Session Updated", "Session Vacated", "Session Updated", "Session Ended",
    ]  # fmt: skip
