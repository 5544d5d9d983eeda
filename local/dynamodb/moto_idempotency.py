"""Make moto's TransactWriteItems honour its ClientRequestToken as DynamoDB does.

botocore fills in a ClientRequestToken for every TransactWriteItems and sends the same one with each retry, so a
transaction that committed but whose answer was lost (a read timeout, a dropped connection, a 500) is retried with
it. DynamoDB answers such a retry with success and applies nothing again (idempotent for 10 minutes); the same token
with a different request is refused `IdempotentParameterMismatchException`. moto ignores the token and runs the
retry again, so locally a committed registration came back cancelled (its own items already there) and the
handshake answered 500 with its seat taken: a ghost seat per lost answer. Here the token is honoured: a successful
transaction's token and request are remembered for TOKEN_WINDOW_SECONDS. Applied once per process (the embedded
server's, and the tests' in-process moto).
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from typing import Any

TOKEN_WINDOW_SECONDS = 600  # DynamoDB: "A client request token is valid for 10 minutes"
_applied = False
_lock = threading.Lock()
_committed: dict[str, tuple[str, float]] = {}  # token -> (the request's digest, when it committed)


def honour_client_request_tokens() -> None:
    global _applied
    if _applied:
        return
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.transact_write_items

    class IdempotentParameterMismatch(DynamodbException):
        def __init__(self) -> None:
            super().__init__(
                "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException",
                "the ClientRequestToken was already used with a different request",
            )

    @functools.wraps(original)
    def transact_write_items(self: Any) -> Any:
        token = self.body.get("ClientRequestToken")
        if not token:
            return original(self)
        request = json.dumps(self.body["TransactItems"], sort_keys=True, default=_binary)
        digest = hashlib.sha256(request.encode()).hexdigest()
        now = time.monotonic()
        with _lock:
            for old, (_, at) in list(_committed.items()):
                if now - at >= TOKEN_WINDOW_SECONDS:
                    del _committed[old]
            seen = _committed.get(token)
        if seen is not None:
            if seen[0] != digest:
                raise IdempotentParameterMismatch()
            return _success()  # committed before: applied once, answered again
        result = original(self)  # a cancelled transaction raises: its token is not remembered, as on DynamoDB
        with _lock:
            _committed[token] = (digest, now)
        return result

    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _applied = True


def _binary(value: Any) -> str:
    """A binary attribute's value (bytes, in-process) as text, for the request's digest."""
    if isinstance(value, bytes | bytearray):
        return value.hex()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _success() -> Any:
    from moto.core.responses import ActionResult

    return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
