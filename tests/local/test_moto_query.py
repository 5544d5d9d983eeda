"""The local stack's moto Query patch (local/dynamodb/moto_query.py) answers every Query exactly as moto does:
generated tables of several partitions with every attribute type (strings, numbers, binary, the three
sets, lists, maps, booleans, null), queried with each key condition, both directions, limits and paging,
projections (top-level, nested, list elements) and filters, with and without the patch."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from local.dynamodb import moto_query
from tests.support.aws import create_pk_sk_table
from tests.support.dynamodb_items import items, keys

_tables = itertools.count()

key_conditions = st.one_of(
    st.just(("PK = :pk", {})),
    st.just(("PK = :pk", {})),
    st.builds(lambda v: ("PK = :pk AND SK = :v", {":v": {"S": v}}), keys),
    st.builds(lambda v: ("PK = :pk AND begins_with(SK, :v)", {":v": {"S": v}}), keys),
    st.builds(lambda v: ("PK = :pk AND SK < :v", {":v": {"S": v}}), keys),
    st.builds(lambda v: ("PK = :pk AND SK >= :v", {":v": {"S": v}}), keys),
    st.builds(
        lambda lo, hi: ("PK = :pk AND SK BETWEEN :lo AND :hi", {":lo": {"S": min(lo, hi)}, ":hi": {"S": max(lo, hi)}}),
        keys,
        keys,
    ),
)
projections = st.one_of(
    st.none(),
    st.lists(st.sampled_from(["#sk", "a", "b", "#role", "#data.#role", "tags[0]", "tags[1].x", "#data.x[0]"]),
             min_size=1, max_size=3, unique=True).map(", ".join),
)  # fmt: skip
filters = st.one_of(
    st.none(),
    st.none(),
    st.just(("attribute_exists(a)", {})),
    st.just(("attribute_type(b, :t)", {":t": {"S": "N"}})),
    st.just(("size(tags) > :n", {":n": {"N": "1"}})),
)
queries = st.fixed_dictionaries(
    {
        "pk": st.sampled_from(["p0", "p0", "p0", "p1", "absent"]),
        "key": key_conditions,
        "forward": st.booleans(),
        "limit": st.none() | st.integers(1, 6),
        "projection": projections,
        "filter": filters,
    }
)


# Asked of every generated table too: its largest partition whole, as the fan-out reads it and otherwise.
WHOLE_PARTITION = [
    {"pk": "p0", "key": ("PK = :pk", {}), "forward": forward, "limit": 4, "projection": projection, "filter": None}
    for projection in (None, "#sk, #role, #data.#role", "tags[0], a", "tags[1].x, #data.x[0], b")
    for forward in (True, False)
]


@contextlib.contextmanager
def _patched() -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for owner, name, value in moto_query.replacements():
            stack.enter_context(mock.patch.object(owner, name, value))
        yield


def _answer(ddb: Any, table: str, query: dict[str, Any]) -> Any:
    """Every page of the query, or the error moto raised (a filter it cannot evaluate, say)."""
    try:
        return _pages(ddb, table, query)
    except Exception as error:  # noqa: BLE001 - compared, not handled
        return type(error).__name__, str(error)


def _pages(ddb: Any, table: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    condition, values = query["key"]
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": {":pk": {"S": query["pk"]}, **values},
        "ScanIndexForward": query["forward"],
    }
    names = {f"#{n}": v for n, v in (("sk", "SK"), ("role", "role"), ("data", "Data"))}
    if query["limit"]:
        request["Limit"] = query["limit"]
    if query["projection"]:
        request["ProjectionExpression"] = query["projection"]
    if query["filter"]:
        request["FilterExpression"], filter_values = query["filter"]
        request["ExpressionAttributeValues"].update(filter_values)
    used = {name: value for name, value in names.items() if name in str(request.get("ProjectionExpression"))}
    if used:
        request["ExpressionAttributeNames"] = used
    pages = []
    while True:
        answer = ddb.query(**request)
        answer.pop("ResponseMetadata")
        pages.append(answer)
        if "LastEvaluatedKey" not in answer or len(pages) > 50:
            return pages
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]


def _new_table(ddb: Any) -> str:
    return create_pk_sk_table(ddb, f"t{next(_tables)}")


@pytest.fixture(scope="module")
def ddb() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("dynamodb", region_name="us-east-1")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stored=items, asked=st.lists(queries, min_size=1, max_size=4))
def test_every_query_answers_as_moto_does(ddb: Any, stored: list[dict[str, Any]], asked: list[dict[str, Any]]) -> None:
    table = _new_table(ddb)
    for item in stored:
        ddb.put_item(TableName=table, Item=item)
    before = ddb.scan(TableName=table)["Items"]
    for query in [*asked, *WHOLE_PARTITION]:
        plain = _answer(ddb, table, query)
        with _patched():
            fast = _answer(ddb, table, query)
        assert fast == plain, query
    assert ddb.scan(TableName=table)["Items"] == before  # nothing stored was changed through an answer
    ddb.delete_table(TableName=table)


def test_projected_numbers_are_spelled_as_moto_spells_them(ddb: Any) -> None:
    """Numbers are projected without moto's round trip too (every connection's protocol version is one): each
    spelling comes back as that round trip writes it."""
    table = _new_table(ddb)
    spellings = ["1", "007", "10.0", "1e2", "-2.25", "0.50", "-0", "12345678901234567890123456789012345678"]
    for index, number in enumerate(spellings):
        item = {"a": {"N": number}, "role": {"S": "listener"}, "Data": {"M": {"role": {"N": number}}}}
        ddb.put_item(TableName=table, Item={"PK": {"S": "p0"}, "SK": {"S": f"k{index}"}, **item})
    for projection in ("a", "#sk, #role, a", "#data.#role, a"):
        query = {"pk": "p0", "key": ("PK = :pk", {}), "forward": True, "limit": None, "projection": projection}
        plain = _answer(ddb, table, query | {"filter": None})
        with _patched():
            fast = _answer(ddb, table, query | {"filter": None})
        assert fast == plain, projection
    ddb.delete_table(TableName=table)


def test_the_patch_narrows_a_table_query_to_its_partition(ddb: Any) -> None:
    """Not a tautology of the test above: with the patch, moto's Query no longer reads other partitions."""
    from moto.dynamodb.models.table import Table

    table = _new_table(ddb)
    for pk, sk in [("p0", "b"), ("p0", "a"), ("p1", "c")]:
        ddb.put_item(TableName=table, Item={"PK": {"S": pk}, "SK": {"S": sk}})
    seen: list[list[str]] = []
    with _patched():
        narrowed_all_items = Table.all_items

        def spy(self: Any) -> Any:
            result = narrowed_all_items(self)
            seen.append([f"{i.hash_key.value}/{i.range_key.value}" for i in result])
            return result

        with mock.patch.object(Table, "all_items", spy):
            answer = ddb.query(
                TableName=table, KeyConditionExpression="PK = :pk", ExpressionAttributeValues={":pk": {"S": "p0"}}
            )
    assert [i["SK"]["S"] for i in answer["Items"]] == ["a", "b"]
    assert seen == [["p0/a", "p0/b"]]


@settings(max_examples=60, deadline=None)
@given(stored=items)
def test_an_item_measures_as_moto_measures_it(stored: list[dict[str, Any]]) -> None:
    """The page size limit counts `Item.size`: the patch's sum is moto's for every kind of value (and a name or a
    string beyond ASCII)."""
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.utilities import bytesize

    for attributes in [*stored, {"PK": {"S": "p0"}, "SK": {"S": "é"}, "nämé": {"S": "日本"}, "n": {"N": "-0.50"}}]:
        item = Item(hash_key=None, range_key=None, attrs=attributes)  # type: ignore[arg-type]
        moto_size = sum(bytesize(name) + value.size() for name, value in item.attrs.items())  # moto's Item.size
        assert moto_query._item_size(item) == moto_size
