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
"""

from __future__ import annotations

import base64
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


def answer_with_json() -> None:
    from moto.dynamodb.responses import DynamoResult

    original = DynamoResult.execute_result
    if getattr(original, "_fast", False):
        return

    def execute_result(self: Any, context: Any) -> Any:
        body = fast_body(self.result, context)
        if body is None:
            return original(self, context)
        version = context.service_model.metadata.get("jsonVersion", "1.0")
        return 200, {"Content-Type": f"application/x-amz-json-{version}"}, body

    execute_result._fast = True  # type: ignore[attr-defined]
    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
