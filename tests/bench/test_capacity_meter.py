"""`bench cost` meters the units of the requests a client really sends (on moto) by DynamoDB's rules: whole
items counted whatever the projection, writes by the larger item, failed conditions and transactions too."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from aws_model import capacity
from aws_model.capacity import KeySchema, Units
from bench._capacity_meter import CapacityMeter
from tests.support.aws import create_pk_sk_table

SCHEMA = KeySchema("PK", "SK")
BIG = "x" * 3000  # an item of ~3 KB: 3 write units, one 4 KB read unit


@pytest.fixture
def metered(aws):
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = create_pk_sk_table(client, "metered")
    meter = CapacityMeter(client, boto3.client("dynamodb", region_name="us-east-1"), SCHEMA)
    return client, table, meter


def item(sk: str, body: str = BIG) -> dict[str, dict[str, str]]:
    return {"PK": {"S": "p"}, "SK": {"S": sk}, "body": {"S": body}}


def test_writes_count_the_larger_item_and_a_failed_condition_still_counts(metered):
    client, table, meter = metered
    with meter.metering():
        client.put_item(TableName=table, Item=item("a"))
    assert meter.units == Units(write=3) and meter.requests == 1
    with meter.metering():
        with pytest.raises(ClientError):
            client.put_item(TableName=table, Item=item("a", "small"), ConditionExpression="attribute_not_exists(PK)")
    assert meter.units == Units(write=3)  # the existing 3 KB item
    with meter.metering():
        client.update_item(
            TableName=table,
            Key={"PK": {"S": "p"}, "SK": {"S": "a"}},
            UpdateExpression="SET body = :b",
            ExpressionAttributeValues={":b": {"S": "small"}},
        )
    assert meter.units == Units(write=3)  # the larger of before and after
    with meter.metering():
        client.delete_item(TableName=table, Key={"PK": {"S": "p"}, "SK": {"S": "a"}})
    assert meter.units == Units(write=1)  # the small item it deleted


def test_a_projected_query_counts_whole_items_summed_per_page(metered):
    client, table, meter = metered
    for sk in "abc":
        client.put_item(TableName=table, Item=item(sk))
    with meter.metering():
        pages = client.get_paginator("query").paginate(
            TableName=table,
            KeyConditionExpression="PK = :p",
            ExpressionAttributeValues={":p": {"S": "p"}},
            ProjectionExpression="SK",
            ConsistentRead=True,
            Limit=2,
        )
        assert sum(len(page["Items"]) for page in pages) == 3
    whole = [item(sk) for sk in "abc"]
    expected = capacity.query_page(whole[:2], "strong") + capacity.query_page(whole[2:], "strong")
    assert meter.units == expected == Units(read=3)  # 6 KB -> 2, then 3 KB -> 1
    assert meter.requests == 2


def test_a_transaction_pays_double_and_a_cancelled_one_pays_too(metered):
    client, table, meter = metered
    client.put_item(TableName=table, Item=item("a", "small"))
    puts = [{"Put": {"TableName": table, "Item": item("b")}}]
    check = [
        {
            "ConditionCheck": {
                "TableName": table,
                "Key": {"PK": {"S": "p"}, "SK": {"S": "a"}},
                "ConditionExpression": "attribute_exists(PK)",
            }
        }
    ]
    with meter.metering():
        client.transact_write_items(TransactItems=puts + check)
    assert meter.units == Units(read=2, write=6)
    with meter.metering():
        with pytest.raises(ClientError):
            client.transact_write_items(
                TransactItems=[{"Put": {**puts[0]["Put"], "ConditionExpression": "attribute_not_exists(PK)"}}]
            )
    assert meter.units == Units(write=6)  # the existing 3 KB item, transactional


def test_nothing_is_metered_outside_metering(metered):
    client, table, meter = metered
    client.put_item(TableName=table, Item=item("a"))
    assert meter.units == Units() and meter.requests == 0
