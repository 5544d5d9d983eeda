"""moto's DynamoDB Streams made to stream what DynamoDB does. Applied once per process (the embedded server's, and
the tests' in-process moto through atomic_moto).

- `forget_used_shard_iterators`: moto remembers each shard iterator it hands out (GetRecords answers a new one every
  call) and never forgets one, so a poller asking a few times a second would hold hundreds of thousands after a
  day. An iterator used by GetRecords is forgotten here; its successor is the one to use (a poller never reuses one).
- `stream_one_record_per_update`: an UpdateItem that creates its item is one INSERT of the whole item on DynamoDB's
  stream. moto first puts an item of the keys alone, then applies the update to it, and streams both: an INSERT
  whose image is the keys alone (which no reader of the stream can take for any record), then the whole item's.
  Here the keys-alone record is taken back and the whole item's takes its sequence number; an update that fails
  after moto created the item (too large, say) leaves neither the item nor a record, as on DynamoDB.
"""

from __future__ import annotations

import functools
from typing import Any

_applied: set[str] = set()


def forget_used_shard_iterators() -> None:
    if "iterators" in _applied:
        return
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    original = DynamoDBStreamsBackend.get_records

    @functools.wraps(original)
    def get_records(self: Any, iterator_arn: str, limit: int) -> Any:
        answer = original(self, iterator_arn, limit)
        self.shard_iterators.pop(iterator_arn, None)
        return answer

    DynamoDBStreamsBackend.get_records = get_records  # type: ignore[method-assign]
    _applied.add("iterators")


def stream_one_record_per_update() -> None:
    """Relies on moto's DynamoDB being applied one request at a time (atomic_moto applies this first, so that it runs
    inside its lock; the embedded server is serialized whole) and on moto's internals at the pinned version
    (tests/lifecycle/test_keynote_occupancy.py checks the records)."""
    if "updates" in _applied:
        return
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.update_item

    @functools.wraps(original)
    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        table = self.get_table(table_name)
        hash_key, range_key = self.get_keys_value(table, key)
        created = table.get_item(hash_key, range_key) is None
        shard = table.stream_shard
        streamed = len(shard.items) if shard is not None else 0
        try:
            answer = original(self, table_name, key, *args, **kwargs)
        except BaseException:
            if created and table.get_item(hash_key, range_key) is not None:
                table.delete_item(hash_key, range_key)  # the keys-alone item moto put before the update failed
            if shard is not None:
                del shard.items[streamed:]
            raise
        if created and shard is not None and len(shard.items) == streamed + 2:
            keys_alone, whole = shard.items[streamed:]
            whole.record["dynamodb"]["SequenceNumber"] = keys_alone.record["dynamodb"]["SequenceNumber"]
            shard.items[streamed:] = [whole]
        return answer

    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    _applied.add("updates")
