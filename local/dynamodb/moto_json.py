"""Answer moto's DynamoDB results with `json.dumps` instead of moto's generic response serializer.

moto 5.2 serializes every response by walking the botocore output shape value by value; for a Query
returning a few hundred connection items that costs more than the handler's own work, which made the embedded
DynamoDB, not the handlers, the local stack's bottleneck in a fan-out. DynamoDB's wire format for these
results is the result dict itself (attribute values are already `{"S": ...}` / `{"N": "..."}` maps, a
binary value is base64, as moto's serializer writes a blob), so plain JSON is the same document when
every top-level key is a member of the operation's output shape (moto's serializer drops any other:
DeleteItem's result carries one) and nothing in it is None (moto's serializer leaves those out) or of
another type. Any other result still goes through moto's own path. tests/local/test_moto_json.py
compares both serializations of every answer to generated items and operations.

DynamoDB Streams' GetRecords too (`stream_records_body`): the stream poller asks several times a second and
every write is a record with its item's images, which moto's serializer walked value by value.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

_JSON_SCALARS = (str, int, float, bool, bytes)


def _plain(value: Any, depth: int = 0) -> bool:
    if depth > 40:
        return False
    if isinstance(value, _JSON_SCALARS):
        return True
    if isinstance(value, dict):
        return all(isinstance(k, str) and v is not None and _plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    return False


def _blob(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON")  # pragma: no cover - _plain let only bytes through


def fast_body(result: Any, context: Any) -> str | None:
    """The JSON body for `result`, or None when moto's serializer must write it."""
    if not isinstance(result, dict) or context.service_model.protocol != "json":
        return None
    shape = context.operation_model.output_shape
    if shape is None or not set(result) <= set(shape.members) or not _plain(result):
        return None
    return json.dumps(result, default=_blob)


def stream_records_body(result: Any, context: Any) -> str | None:
    """GetRecords' JSON body (DynamoDB Streams: the stream poller asks several times a second, and every write
    of a broadcast or a join is a record with its item's old and new images), or None when moto's serializer
    must write it. A record is the same document once its `ApproximateCreationDateTime` is written as moto's
    serializer writes a JSON protocol's timestamp, when it holds only keys of the record shapes and no binary
    value (a record's binary is base64 already, which moto's serializer encodes once more)."""
    if not isinstance(result, dict) or not isinstance(result.get("Records"), list):
        return None
    from botocore.utils import parse_to_aware_datetime
    from moto.core.serialize import TimestampSerializer

    record_shape = context.operation_model.output_shape.members["Records"].member
    change_shape = record_shape.members["dynamodb"]
    records = []
    for record in result["Records"]:
        change = record.get("dynamodb") if isinstance(record, dict) else None
        if not isinstance(change, dict) or not set(record) <= set(record_shape.members):
            return None
        if not set(change) <= set(change_shape.members) or _holds_binary(change):
            return None
        created = change.get("ApproximateCreationDateTime")
        if created is not None:
            if not isinstance(created, dt.datetime):
                return None
            created = TimestampSerializer._timestamp_unixtimestamp(parse_to_aware_datetime(created))
            change = {**change, "ApproximateCreationDateTime": created}
        records.append({**record, "dynamodb": change})
    return fast_body({**result, "Records": records}, context)


def _holds_binary(change: dict[str, Any]) -> bool:
    """Whether a record's images or keys hold a binary value anywhere (an attribute value {"B": ...} or {"BS": ...})."""

    def walk(value: Any) -> bool:
        if isinstance(value, dict):
            return "B" in value or "BS" in value or any(walk(v) for v in value.values())
        if isinstance(value, list):
            return any(walk(v) for v in value)
        return False

    return any(walk(change.get(part)) for part in ("Keys", "NewImage", "OldImage"))


def _json_answer(body: str, context: Any) -> Any:
    version = context.service_model.metadata.get("jsonVersion", "1.0")
    return 200, {"Content-Type": f"application/x-amz-json-{version}"}, body


def answer_with_json() -> None:
    from moto.dynamodb.responses import DynamoResult
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    original = DynamoResult.execute_result
    if getattr(original, "_fast", False):
        return
    _answer_stream_records_with_json(DynamoDBStreamsHandler)

    def execute_result(self: Any, context: Any) -> Any:
        body = fast_body(self.result, context)
        if body is None:
            return original(self, context)
        return _json_answer(body, context)

    execute_result._fast = True  # type: ignore[attr-defined]
    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]


def _answer_stream_records_with_json(handler: Any) -> None:
    from moto.core.responses import ActionResult

    class StreamRecords(ActionResult):
        def execute_result(self, context: Any) -> Any:
            body = stream_records_body(self.result, context)
            return super().execute_result(context) if body is None else _json_answer(body, context)

    original = handler.get_records

    def get_records(self: Any) -> Any:
        return StreamRecords(original(self).result)

    handler.get_records = get_records
