"""Give moto's TransactWriteItems a backup the size of the transaction, not of the table.

moto backs up every table a transaction names with a `copy.deepcopy` of the whole table before applying
it, to roll back if it is cancelled. Every `$connect`, `$disconnect`, `sendMessage` and idempotent
create is a transaction, so the local stack (and the tests) slowed down as the table grew: thousands
of stored messages made each join cost tens of milliseconds more. Here the whole-table copy is skipped
and the items the transaction names are backed up instead, then restored if it fails.

This relies on moto's DynamoDB being applied one request at a time (local/dynamodb/backend.py serializes the
embedded server, local/dynamodb/atomic_moto.py the in-process backend), as it is everywhere we use it, and on
moto's internals at the version requirements-dev.txt pins (tests/local/test_moto_transactions.py checks
the rollback). Applied once per process.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

_applied = False


class _CopyWithoutTables:
    """Stands in for the `copy` module inside moto.dynamodb.models: a Table is "copied" as itself."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, self._table_type):
            return value  # the whole-table backup; the items are backed up by the wrapper below
        return copy.deepcopy(value, memo)


def back_up_only_touched_items() -> None:
    global _applied
    if _applied:
        return
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        backups = [backup for item in transact_items if (backup := _backup(self, item)) is not None]
        streams = _stream_lengths(backups)
        try:
            return original(self, transact_items)
        except BaseException:
            for table, hash_key, range_key, saved in reversed(backups):
                _restore(table, hash_key, range_key, saved)
            for shard, length in streams:
                del shard.items[length:]  # the cancelled writes' stream records: DynamoDB never streams those
            raise

    models.copy = _CopyWithoutTables(Table)  # type: ignore[assignment]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _applied = True


def _backup(backend: Any, transact_item: dict[str, Any]) -> tuple[Any, Any, Any, Any] | None:
    """(table, hash key, range key, a copy of the item or None) for one operation; None when the
    operation is malformed (moto refuses it before it writes anything)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        op_type, op = next(iter(transact_item.items()))
        table = backend.tables[op["TableName"]]
        key = op["Item"] if op_type == "Put" else op["Key"]
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        current = table.get_item(hash_key, range_key)
    except Exception:  # noqa: BLE001 - moto itself reports what is wrong with the operation
        return None
    return table, hash_key, range_key, copy.deepcopy(current) if current is not None else None


def _stream_lengths(backups: list[tuple[Any, Any, Any, Any]]) -> list[tuple[Any, int]]:
    """Each streamed table's stream shard and its length before the transaction (moto records each element's
    write as it applies it, and its whole-table rollback, skipped above, was what took them back)."""
    shards = {id(shard): shard for table, *_ in backups if (shard := getattr(table, "stream_shard", None)) is not None}
    return [(shard, len(shard.items)) for shard in shards.values()]


def _restore(table: Any, hash_key: Any, range_key: Any, saved: Any) -> None:
    if range_key is None:
        if saved is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = saved
        return
    if saved is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = saved
