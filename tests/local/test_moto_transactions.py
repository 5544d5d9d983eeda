"""The local stack's moto patch (local/dynamodb/moto_transactions.py): a cancelled transaction still leaves the
table exactly as it was, now that it backs up only the items it names."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.support.aws import TABLE_NAME


def _item(pk: str, sk: str, **attrs: int) -> dict:
    return {"PK": {"S": pk}, "SK": {"S": sk}, **{name: {"N": str(value)} for name, value in attrs.items()}}


def _add_one(pk: str, sk: str) -> dict:
    """A transaction's Update that adds 1 to `count`."""
    return {
        "Update": {
            "TableName": TABLE_NAME,
            "Key": {"PK": {"S": pk}, "SK": {"S": sk}},
            "UpdateExpression": "ADD #c :one",
            "ExpressionAttributeNames": {"#c": "count"},
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def _table(ddb) -> dict[tuple[str, str], dict]:
    items = ddb.scan(TableName=TABLE_NAME, ConsistentRead=True)["Items"]
    return {(i["PK"]["S"], i["SK"]["S"]): i for i in items}


def test_a_cancelled_transaction_undoes_its_put_update_and_delete(ddb) -> None:
    ddb.put_item(TableName=TABLE_NAME, Item=_item("S#a", "META", count=1))
    ddb.put_item(TableName=TABLE_NAME, Item=_item("S#a", "C#gone", count=7))
    ddb.put_item(TableName=TABLE_NAME, Item=_item("S#b", "META", count=5))
    before = _table(ddb)

    with pytest.raises(ClientError) as refused:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE_NAME, "Item": _item("S#a", "C#new", count=1)}},
                _add_one("S#a", "META"),
                {"Delete": {"TableName": TABLE_NAME, "Key": {"PK": {"S": "S#a"}, "SK": {"S": "C#gone"}}}},
                {
                    "ConditionCheck": {  # last, so the three writes above have been applied in moto
                        "TableName": TABLE_NAME,
                        "Key": {"PK": {"S": "S#b"}, "SK": {"S": "META"}},
                        "ConditionExpression": "#c < :limit",
                        "ExpressionAttributeNames": {"#c": "count"},
                        "ExpressionAttributeValues": {":limit": {"N": "5"}},
                    }
                },
            ]
        )
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _table(ddb) == before


def test_a_committed_transaction_keeps_every_write(ddb) -> None:
    ddb.put_item(TableName=TABLE_NAME, Item=_item("S#a", "META", count=1))
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE_NAME, "Item": _item("S#a", "C#new", count=1)}},
            _add_one("S#a", "META"),
        ]
    )
    table = _table(ddb)
    assert table[("S#a", "META")]["count"] == {"N": "2"}
    assert ("S#a", "C#new") in table
