"""Keep moto's DynamoDB Streams from growing with every poll: moto remembers each shard iterator it hands out
(GetRecords answers a new one every call) and never forgets one, so a poller asking a few times a second
would hold hundreds of thousands after a day. An iterator used by GetRecords is forgotten here; its
successor is the one to use (a poller never reuses one). Applied once per process (the embedded server's).
"""

from __future__ import annotations

import functools
from typing import Any

_applied = False


def forget_used_shard_iterators() -> None:
    global _applied
    if _applied:
        return
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    original = DynamoDBStreamsBackend.get_records

    @functools.wraps(original)
    def get_records(self: Any, iterator_arn: str, limit: int) -> Any:
        answer = original(self, iterator_arn, limit)
        self.shard_iterators.pop(iterator_arn, None)
        return answer

    DynamoDBStreamsBackend.get_records = get_records  # type: ignore[method-assign]
    _applied = True
