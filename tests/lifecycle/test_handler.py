"""The stream handler: records in order, ten entries a PutEvents, and the first record not wholly announced
named in `batchItemFailures` so Lambda retries from there (nothing before it is put again)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from lifecycle_events.app import handler, process, publisher
from lifecycle_events.publisher import Publisher
from session_schema import codec
from session_schema.lifecycle import SOURCE
from session_schema.models import Session
from session_schema.status import SessionStatus

from tests.support.aws import EVENT_BUS_NAME
from tests.support.stream_records import assert_envelope_matches, stream_record

SID = "quiet-river-482"


def session(**changes: Any) -> Session:
    base = Session(sessionId=SID, ownerId="alice", maxListeners=10, epoch="ep1", createdAt=1_000, updatedAt=1_000)
    return base.model_copy(update=changes)


class FakeEvents:
    """An EventBridge client that takes every entry, or refuses the entries whose detail-type is `refuse`."""

    def __init__(self, refuse: str | None = None, fail_calls: bool = False) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.refuse, self.fail_calls = refuse, fail_calls

    @property
    def put(self) -> list[str]:
        return [entry["DetailType"] for call in self.calls for entry in call]

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 - boto3's name
        if self.fail_calls:
            raise ConnectionError("the endpoint did not answer")
        assert len(Entries) <= 10
        self.calls.append(Entries)
        answers = [
            {"ErrorCode": "InternalFailure"} if entry["DetailType"] == self.refuse else {"EventId": "e"}
            for entry in Entries
        ]
        return {"FailedEntryCount": sum("ErrorCode" in a for a in answers), "Entries": answers}


def lifecycle_of_a_session() -> list[dict[str, Any]]:
    return [
        stream_record(None, session()),
        stream_record(session(), session(listenerCount=1)),
        stream_record(session(listenerCount=1), session(listenerCount=1, seq=3)),  # a broadcast: nothing
        stream_record(session(listenerCount=1), session(listenerCount=1, status=SessionStatus.PAUSED)),
        stream_record(session(listenerCount=1, status=SessionStatus.PAUSED), session(status=SessionStatus.PAUSED)),
        stream_record(session(status=SessionStatus.PAUSED), session(status=SessionStatus.ENDED, endedAt=2_000)),
    ]


def test_a_batch_is_put_in_stream_order_on_the_bus():
    events = FakeEvents()
    assert process(lifecycle_of_a_session(), Publisher(events, "bus")) == {"batchItemFailures": []}
    assert events.put == ["Session Created", "Session Occupied", "Session Updated", "Session Vacated", "Session Ended"]
    entry = events.calls[0][0]
    assert (entry["Source"], entry["EventBusName"]) == (SOURCE, "bus")


def test_more_than_ten_events_take_several_calls_of_ten_at_most():
    records = [stream_record(session(listenerCount=n % 2), session(listenerCount=(n + 1) % 2)) for n in range(23)]
    events = FakeEvents()
    assert process(records, Publisher(events, "bus")) == {"batchItemFailures": []}
    assert [len(call) for call in events.calls] == [10, 10, 3]


def test_a_refused_entry_names_its_record_and_what_follows_is_not_put():
    records = lifecycle_of_a_session()
    events = FakeEvents(refuse="Session Updated")
    answer = process(records, Publisher(events, "bus"))
    assert answer == {"batchItemFailures": [{"itemIdentifier": records[3]["dynamodb"]["SequenceNumber"]}]}


def test_a_failed_call_names_the_first_record_of_its_events():
    records = lifecycle_of_a_session()
    answer = process(records, Publisher(FakeEvents(fail_calls=True), "bus"))
    assert answer == {"batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}]}


def test_an_unreadable_record_stops_the_batch_at_itself_after_what_came_before_is_put():
    records = lifecycle_of_a_session()
    broken = codec.encode(session(listenerCount=1))
    broken["maxListeners"] = {"S": "many"}
    records.insert(2, stream_record(codec.encode(session()), broken))
    events = FakeEvents()
    answer = process(records, Publisher(events, "bus"))
    assert answer == {"batchItemFailures": [{"itemIdentifier": records[2]["dynamodb"]["SequenceNumber"]}]}
    assert events.put == ["Session Created", "Session Occupied"]


def test_no_bus_is_a_clear_error():
    with pytest.raises(ValueError, match="EVENT_BUS_NAME"):
        Publisher(FakeEvents(), "")


@pytest.fixture
def bus_queue(settings_env, aws):
    """The test bus with a rule that copies every event to a queue, as a target receives them."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    events.create_event_bus(Name=EVENT_BUS_NAME)
    queue = sqs.create_queue(QueueName="lifecycle-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName=EVENT_BUS_NAME, EventPattern=json.dumps({"source": [SOURCE]}))
    events.put_targets(Rule="all", EventBusName=EVENT_BUS_NAME, Targets=[{"Id": "q", "Arn": arn}])
    publisher.cache_clear()
    yield sqs, queue
    publisher.cache_clear()


def test_the_deployed_entry_point_puts_what_a_target_receives_and_it_matches_the_schemas(bus_queue):
    sqs, queue = bus_queue
    assert handler({"Records": lifecycle_of_a_session()}, None) == {"batchItemFailures": []}
    received = []
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        received += [json.loads(message["Body"]) for message in batch]
        sqs.delete_message_batch(
            QueueUrl=queue, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
    assert sorted(e["detail-type"] for e in received) == sorted(
        ["Session Created", "Session Occupied", "Session Updated", "Session Vacated", "Session Ended"]
    )
    for envelope in received:
        assert_envelope_matches(envelope)
