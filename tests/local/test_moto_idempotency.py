"""moto honours TransactWriteItems' ClientRequestToken as DynamoDB does (local/dynamodb/moto_idempotency.py): the
same token and request again succeed without applying again; the same token with another request is refused."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from tests.support.aws import TABLE_NAME


def _add(amount: int) -> list[dict]:
    return [
        {
            "Update": {
                "TableName": TABLE_NAME,
                "Key": {"PK": {"S": "COUNTER"}, "SK": {"S": "META"}},
                "UpdateExpression": "ADD #n :one",
                "ExpressionAttributeNames": {"#n": "n"},
                "ExpressionAttributeValues": {":one": {"N": str(amount)}},
            }
        }
    ]


def _count(ddb) -> int:
    item = ddb.get_item(TableName=TABLE_NAME, Key={"PK": {"S": "COUNTER"}, "SK": {"S": "META"}})["Item"]
    return int(item["n"]["N"])


def test_a_retried_transaction_with_its_token_succeeds_and_applies_once(ddb) -> None:
    token = str(uuid.uuid4())
    ddb.transact_write_items(TransactItems=_add(1), ClientRequestToken=token)
    ddb.transact_write_items(TransactItems=_add(1), ClientRequestToken=token)  # a retry: the answer was lost
    assert _count(ddb) == 1
    ddb.transact_write_items(TransactItems=_add(1), ClientRequestToken=str(uuid.uuid4()))  # a new request
    assert _count(ddb) == 2


def test_a_token_reused_for_another_request_is_refused(ddb) -> None:
    token = str(uuid.uuid4())
    ddb.transact_write_items(TransactItems=_add(1), ClientRequestToken=token)
    with pytest.raises(ClientError) as refused:
        ddb.transact_write_items(TransactItems=_add(5), ClientRequestToken=token)
    assert refused.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert _count(ddb) == 1


def test_a_cancelled_transaction_keeps_no_token(ddb) -> None:
    token = str(uuid.uuid4())
    guarded = _add(1)
    guarded[0]["Update"]["ConditionExpression"] = "attribute_exists(PK)"
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=guarded, ClientRequestToken=token)
    ddb.put_item(TableName=TABLE_NAME, Item={"PK": {"S": "COUNTER"}, "SK": {"S": "META"}, "n": {"N": "0"}})
    ddb.transact_write_items(TransactItems=guarded, ClientRequestToken=token)  # runs: nothing was committed
    assert _count(ddb) == 1
