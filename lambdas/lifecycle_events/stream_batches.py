"""Reading the table's stream as Lambda's event source mapping hands it to a function: the records of a range of
sequence numbers of one shard, in the shape of an event's `Records`. Used by the redrive (which reads back
a batch the mapping gave up on) and by the local stack's poller (which stands in for the mapping)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

# A GetRecords page; an empty page with an iterator means "nothing yet" at the shard's end.
PAGE_LIMIT = 1000


def lambda_record(record: Mapping[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record (boto3 parses the creation time into a datetime) as Lambda delivers it: epoch
    seconds, and the stream's ARN as `eventSourceARN`."""
    stream = dict(record["dynamodb"])
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = created.timestamp()
    out = {**record, "dynamodb": stream, "eventSourceARN": stream_arn}
    return out


def records_between(streams: Any, stream_arn: str, shard_id: str, first: str, last: str) -> Iterator[dict[str, Any]]:
    """The records of `shard_id` from sequence number `first` to `last` (both included), as Lambda delivers
    them. Raises the client's TrimmedDataAccessException / ExpiredIteratorException when the stream no longer
    holds them (24 hours after their writing)."""
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard_id, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=first
    )["ShardIterator"]
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=PAGE_LIMIT)
        records = page.get("Records", [])
        for record in records:
            if int(record["dynamodb"]["SequenceNumber"]) > int(last):
                return
            yield lambda_record(record, stream_arn)
        if not records:
            return  # the shard's end, before `last` (a closed shard ends; an open one has nothing more yet)
        iterator = page.get("NextShardIterator")
