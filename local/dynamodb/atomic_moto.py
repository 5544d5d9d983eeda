"""Make moto's DynamoDB as atomic as the real one.

DynamoDB applies each write, conditional check included, and each transaction atomically. moto checks
a condition and then applies the write in plain Python, so two threads can both pass a check that only
one should pass. Race tests and the local stack (which serves many connections at once) would then
report moto's races as ours. Serializing moto's DynamoDB operations behind one lock restores the
guarantee the code relies on; it is applied once per process.
"""

from __future__ import annotations

import threading

from .serialize import serialize_methods

_OPERATIONS = (
    "put_item",
    "get_item",
    "query",
    "scan",
    "update_item",
    "delete_item",
    "transact_write_items",
    "transact_get_items",
    "batch_write_item",
    "batch_get_item",
)
# moto's request handlers that read an item and then write it in two backend calls (ReturnValues ALL_OLD, put_item's
# old item): under the same lock, or another thread's write lands between the two and the old item returned misses it.
_HANDLER_OPERATIONS = ("put_item", "update_item", "delete_item")
_lock = threading.RLock()
_applied = False


def make_moto_dynamodb_atomic() -> None:
    global _applied
    if _applied:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    from .moto_idempotency import honour_client_request_tokens
    from .moto_streams import stream_one_record_per_update
    from .moto_transactions import back_up_only_touched_items

    back_up_only_touched_items()  # first, so that its backup is taken inside the lock below
    honour_client_request_tokens()
    stream_one_record_per_update()  # before the lock too, so that it runs inside it
    serialize_methods(DynamoDBBackend, _OPERATIONS, _lock)
    serialize_methods(DynamoHandler, _HANDLER_OPERATIONS, _lock)
    _applied = True
