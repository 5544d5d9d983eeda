"""Bench-only: answer moto's DynamoDB results with `json.dumps` instead of moto's generic serializer.

moto 5.2 serializes every response by walking the botocore output shape value by value; for a Query
returning a few hundred connection items that costs ~1 ms per item, which makes the embedded DynamoDB,
not the handlers, the local stack's bottleneck at scale. DynamoDB's wire format for these results is
the result dict itself (attribute values are already `{"S": ...}` / `{"N": "..."}` maps), so plain
JSON is equivalent; anything holding bytes or other non-JSON values still goes through moto's own path.

The fan-out benchmark applies this in the embedded moto's process unless `--plain-moto` is given, and the
requests benchmark applies it (request counts do not depend on it). The local stack itself does not.
"""

from __future__ import annotations

import json
from typing import Any

_JSON_SCALARS = (str, int, float, bool)


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


def apply() -> None:
    from moto.dynamodb.responses import DynamoResult

    original = DynamoResult.execute_result
    if getattr(original, "_fast", False):
        return

    def execute_result(self: Any, context: Any) -> Any:
        result = self.result
        if isinstance(result, dict) and _plain(result) and context.service_model.protocol == "json":
            version = context.service_model.metadata.get("jsonVersion", "1.0")
            return 200, {"Content-Type": f"application/x-amz-json-{version}"}, json.dumps(result)
        return original(self, context)

    execute_result._fast = True  # type: ignore[attr-defined]
    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
