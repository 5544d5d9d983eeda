"""DynamoDB capacity units from item sizes, checked against the examples DynamoDB's documentation gives
(aws_model/capacity.py cites the pages)."""

from __future__ import annotations

import pytest

from aws_model import capacity
from aws_model.capacity import KeySchema, Units


def item_of(size: int, **extra: dict[str, str]) -> dict[str, dict[str, str]]:
    """An item of exactly `size` bytes: the attribute `pk` (2 bytes of name) and a string value."""
    item = {"pk": {"S": "k" * (size - 2)}}
    item.update(extra)
    assert capacity.item_size(item) == size
    return item


@pytest.mark.parametrize(
    ("item", "size"),
    [
        ({"id": {"S": "abc"}}, 2 + 3),
        ({"id": {"S": "é"}}, 2 + 2),  # UTF-8 bytes, not characters
        ({"n": {"N": "123"}}, 1 + 2 + 1),  # 3 significant digits: 2 bytes, plus 1
        ({"n": {"N": "1000"}}, 1 + 1 + 1),  # trailing zeros are not significant
        ({"n": {"N": "-0.0012"}}, 1 + 1 + 1),  # nor leading ones
        ({"n": {"N": "0"}}, 1 + 1),
        ({"b": {"B": b"\x00\x01\x02"}}, 1 + 3),  # raw bytes, not base64
        ({"t": {"BOOL": True}, "z": {"NULL": True}}, 2 + 2),
        ({"l": {"L": [{"S": "ab"}, {"N": "1"}]}}, 1 + 3 + (1 + 2) + (1 + 2)),  # 3 bytes + 1 per element
        ({"m": {"M": {"k": {"S": "v"}}}}, 1 + 3 + (1 + 1 + 1)),  # nested names count
        ({"m": {"M": {}}}, 1 + 3),
        ({"s": {"SS": ["a", "bc"]}}, 1 + 3),
    ],
)
def test_item_size_is_names_plus_values_by_type(item, size):
    assert capacity.item_size(item) == size


def test_an_unknown_type_is_refused_not_guessed():
    with pytest.raises(ValueError, match="XX"):
        capacity.item_size({"a": {"XX": 1}})


def test_reads_round_up_to_4_kb_and_halve_when_eventually_consistent():
    small, eight_kb = item_of(3500), item_of(8 * 1024)
    assert capacity.get_item(small, "strong") == Units(read=1)
    assert capacity.get_item(small, "eventual") == Units(read=0.5)
    assert capacity.get_item(small, "transactional") == Units(read=2)
    assert [capacity.get_item(eight_kb, c).read for c in ("strong", "eventual", "transactional")] == [2, 1, 4]
    assert capacity.get_item(item_of(10 * 1024), "strong") == Units(read=3)  # rounded to 12 KB


def test_reading_an_item_that_does_not_exist_still_costs_the_minimum():
    assert capacity.get_item(None, "strong") == Units(read=1)
    assert capacity.query_page([], "eventual") == Units(read=0.5)


def test_a_query_page_sums_its_items_before_rounding_once():
    items = [item_of(1536), item_of(1536)]  # 3 KB together
    assert capacity.query_page(items, "strong") == Units(read=1)
    assert sum(capacity.get_item(i, "strong").read for i in items) == 2  # each read alone rounds up
    assert capacity.query_page([item_of(1000)] * 1000, "strong") == Units(read=245)  # ceil(1,000,000 / 4,096)


def test_writes_round_up_to_1_kb_and_double_in_a_transaction():
    three_kb = item_of(3 * 1024)
    assert capacity.write(None, three_kb) == Units(write=3)
    assert capacity.write(None, three_kb, transactional=True) == Units(write=6)
    assert capacity.write(None, item_of(100)) == Units(write=1)


def test_an_update_counts_the_larger_of_before_and_after_and_a_delete_the_deleted_item():
    assert capacity.write(item_of(500), item_of(1500)) == Units(write=2)
    assert capacity.write(item_of(1500), item_of(500)) == Units(write=2)
    assert capacity.write(item_of(2500), None) == Units(write=3)


def test_a_write_whose_condition_fails_still_costs_the_existing_item_at_least_one_unit():
    assert capacity.write(item_of(2500), item_of(100), condition_failed=True) == Units(write=3)
    assert capacity.write(None, item_of(5000), condition_failed=True) == Units(write=1)
    assert capacity.write(item_of(100), None, transactional=True, condition_failed=True) == Units(write=2)


SCHEMA = KeySchema("pk", "sk", indexes=(("gpk", "gsk"),))


def test_an_index_pays_for_the_copies_it_stores():
    plain = item_of(500)
    indexed = {**plain, "gpk": {"S": "a"}, "gsk": {"S": "1"}}
    moved = {**indexed, "gsk": {"S": "2"}}
    assert capacity.write(None, plain, SCHEMA) == Units(write=1)  # not in the index: the table only
    assert capacity.write(None, indexed, SCHEMA) == Units(write=2)  # enters the index: one more
    assert capacity.write(indexed, {**indexed, "x": {"S": "y"}}, SCHEMA) == Units(write=2)  # changes within it
    assert capacity.write(indexed, moved, SCHEMA) == Units(write=3)  # index key changed: delete + put
    assert capacity.write(indexed, None, SCHEMA) == Units(write=2)  # leaves it
    assert capacity.write(indexed, indexed, SCHEMA) == Units(write=1)  # unchanged: the index is not written


def test_a_failed_write_writes_no_index():
    indexed = {**item_of(500), "gpk": {"S": "a"}, "gsk": {"S": "1"}}
    assert capacity.write(indexed, None, SCHEMA, condition_failed=True) == Units(write=1)


def test_units_add_up():
    assert Units(1, 2) + Units(0.5, 1) == Units(1.5, 3)


def test_the_key_of_an_item_is_its_table_key():
    item = {"pk": {"S": "a"}, "sk": {"S": "b"}, "x": {"N": "1"}}
    assert SCHEMA.key_of(item) == {"pk": {"S": "a"}, "sk": {"S": "b"}}
