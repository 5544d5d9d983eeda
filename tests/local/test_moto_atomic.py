"""The local stack's moto is as atomic as DynamoDB (local/dynamodb/atomic_moto.py): a write's `ReturnValues`
old item is the item the write replaced, even with other threads writing it at once (moto reads the old item and
writes the new one in two backend calls)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import TABLE_NAME

KEY = {"PK": {"S": "COUNTER#atomic"}, "SK": {"S": "COUNTER"}}


def test_counts_taken_with_all_old_beside_concurrent_adds_are_never_lost(ddb) -> None:
    """Writers ADD to a counter while takers zero it and keep what it held (ALL_OLD): what the takers kept plus
    what is left is every count added."""
    ddb.put_item(TableName=TABLE_NAME, Item={**KEY, "n": {"N": "0"}})
    adds, takes = 400, 200

    def add(_: int) -> int:
        ddb.update_item(
            TableName=TABLE_NAME, Key=KEY, UpdateExpression="ADD n :one", ExpressionAttributeValues={":one": {"N": "1"}}
        )
        return 0

    def take(_: int) -> int:
        old = ddb.update_item(
            TableName=TABLE_NAME,
            Key=KEY,
            UpdateExpression="SET n = :zero",
            ExpressionAttributeValues={":zero": {"N": "0"}},
            ReturnValues="ALL_OLD",
        )
        return int(old["Attributes"]["n"]["N"])

    work = [add] * adds + [take] * takes
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch often, as on a busy machine, so that a window between two calls shows
    try:
        with ThreadPoolExecutor(8) as pool:
            taken = sum(pool.map(lambda job: job(0), work))
    finally:
        sys.setswitchinterval(interval)
    left = int(ddb.get_item(TableName=TABLE_NAME, Key=KEY)["Item"]["n"]["N"])
    assert taken + left == adds
