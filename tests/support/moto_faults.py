"""Faults for the local stack's embedded moto, applied in its process by dotted name
(`LocalStack(moto_patches=("tests.support.moto_faults.lose_first_answer_of_every_commit",))`).

- lose_first_answer_of_every_commit: every TransactWriteItems commits, but the first answer under each
  ClientRequestToken is a 500, as when DynamoDB commits and the answer is lost on the way back. botocore retries
  with the same token (local/dynamodb/moto_idempotency.py answers the retry as DynamoDB does: success, applied
  once). Applied after the stack's own patches, so it wraps the token-honouring handler. Each lost answer adds a
  line to the file `$LOST_ANSWERS_FILE` names, when set (the test counts them: the fault did strike).
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any


def lose_first_answer_of_every_commit() -> None:
    from moto.dynamodb.exceptions import DynamodbException
    from moto.dynamodb.responses import DynamoHandler

    class LostAnswer(DynamodbException):
        code = 500

        def __init__(self) -> None:
            super().__init__(
                "com.amazonaws.dynamodb.v20120810#InternalServerError", "injected: the commit's answer was lost"
            )

    committed = DynamoHandler.transact_write_items
    lock = threading.Lock()
    answered: set[str] = set()  # tokens whose commit has had its first answer lost

    @functools.wraps(committed)
    def transact_write_items(self: Any) -> Any:
        result = committed(self)  # raises when cancelled: nothing committed, the answer goes back as it is
        token = self.body.get("ClientRequestToken")
        with lock:
            first = token is not None and token not in answered
            answered.add(token)
        if first:
            if log := os.environ.get("LOST_ANSWERS_FILE"):
                with open(log, "a") as lost:
                    lost.write(f"{token}\n")
            raise LostAnswer()
        return result

    DynamoHandler.transact_write_items = transact_write_items  # type: ignore[method-assign]
