"""The local stack's moto answers (local/dynamodb/moto_json.py) are the documents moto's own serializer writes:
every response to generated items (every attribute type, binary and sets included) and the operations
the handlers use (reads, writes returning old or new values, batches, transactions, consumed capacity),
serialized both ways and compared; and the JSON path is the one taken for the reads a fan-out makes."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from unittest import mock

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from moto import mock_aws
from moto.dynamodb.responses import DynamoResult

from local.dynamodb.moto_json import fast_body
from tests.support.aws import create_pk_sk_table
from tests.support.dynamodb_items import items

TABLE = "t"
_tables = itertools.count()
_original = DynamoResult.execute_result


@pytest.fixture(scope="module")
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_pk_sk_table(client, TABLE)
        yield client


def _calls(ddb: Any, stored: list[dict[str, Any]]) -> None:
    first, key = stored[0], {"PK": stored[0]["PK"], "SK": stored[0]["SK"]}
    for item in stored:
        ddb.put_item(TableName=TABLE, Item=item, ReturnValues="ALL_OLD")
    ddb.put_item(TableName=TABLE, Item=first, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL")
    ddb.get_item(TableName=TABLE, Key=key, ConsistentRead=True)
    ddb.get_item(TableName=TABLE, Key={"PK": {"S": "absent"}, "SK": {"S": "a"}})
    for pk in ("p0", "p1"):
        ddb.query(
            TableName=TABLE,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            Limit=5,
            ReturnConsumedCapacity="TOTAL",
        )
        ddb.query(
            TableName=TABLE,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ProjectionExpression="SK, #role, #data.#role",
            ExpressionAttributeNames={"#role": "role", "#data": "Data"},
        )
    ddb.scan(TableName=TABLE)
    ddb.batch_get_item(RequestItems={TABLE: {"Keys": [key]}})
    ddb.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": key}}])
    ddb.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="ADD listenerCount :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": first}}])
    for item in stored:
        ddb.delete_item(TableName=TABLE, Key={"PK": item["PK"], "SK": item["SK"]}, ReturnValues="ALL_OLD")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=items)
def test_every_answer_is_the_document_moto_writes(ddb: Any, stored: list[dict[str, Any]]) -> None:
    answered: list[tuple[str, bool]] = []

    def both(self: Any, context: Any) -> Any:
        status, headers, body = _original(self, context)
        fast = fast_body(self.result, context)
        if fast is not None:
            assert json.loads(fast) == json.loads(body), context.operation_model.name
            assert status == 200 and headers["Content-Type"].startswith("application/x-amz-json-")
        answered.append((context.operation_model.name, fast is not None))
        return status, headers, body

    with mock.patch.object(DynamoResult, "execute_result", both):
        _calls(ddb, stored)
    fast = {name for name, json_path in answered if json_path}
    assert {"GetItem", "Query", "PutItem", "BatchGetItem", "TransactGetItems", "UpdateItem"} <= fast
    assert ("DeleteItem", False) in answered  # its result carries a key the output shape has not


def _records_context() -> Any:
    from moto.core.serialize import get_serializer_class
    from moto.core.utils import get_service_model

    service = get_service_model("dynamodbstreams")
    serializer = get_serializer_class("dynamodbstreams", service.protocol)
    return SimpleNamespace(
        service_model=service,
        operation_model=service.operation_model("GetRecords"),
        serializer_class=serializer,
        response=None,
    )


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=items)
def test_stream_records_are_the_document_moto_writes(ddb: Any, stored: list[dict[str, Any]]) -> None:
    """GetRecords answered as JSON (the stream poller's every call): the records of puts, overwrites and deletes
    of generated items are the document moto's serializer writes; a batch holding binary is left to moto."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.responses import ActionResult
    from moto.dynamodb.models import dynamodb_backends

    from local.dynamodb.moto_json import stream_records_body

    table = f"records{next(_tables)}"
    create_pk_sk_table(ddb, table)
    ddb.update_table(
        TableName=table, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    )
    for item in stored:
        ddb.put_item(TableName=table, Item=item)
    ddb.put_item(TableName=table, Item={**stored[0], "seq": {"N": "7"}})
    ddb.delete_item(TableName=table, Key={"PK": stored[1]["PK"], "SK": stored[1]["SK"]})
    shard = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].get_table(table).stream_shard
    context = _records_context()
    answered = []
    for start in range(0, len(shard.items), 5):  # batches of five records, as pages of GetRecords
        result = {"NextShardIterator": "next", "Records": shard.get(shard.starting_sequence_number + start, 5)}
        _status, _headers, body = ActionResult(result).execute_result(context)  # type: ignore[arg-type]
        fast = stream_records_body(result, context)
        if fast is not None:
            assert json.loads(fast) == json.loads(body)
        answered.append(fast is not None)
        binary = any(kind in ("B", "BS") for r in result["Records"] for kind in _kinds(r["dynamodb"]))
        assert (fast is None) == binary
    assert answered
    ddb.delete_table(TableName=table)


def _kinds(value: Any) -> Iterator[str]:
    """Every key of every map in `value` (attribute value types among them)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _kinds(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _kinds(inner)
