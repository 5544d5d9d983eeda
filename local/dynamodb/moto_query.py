"""Give moto's table Query the cost of the partition it reads and of the attributes it projects.

moto 5.2's `Table.query` on the table itself (no index) starts from `all_items()`: every item of every
partition, sorted by (hash key, range key) with DynamoType comparisons, then keeps those of the queried
partition. The local stack's table holds every session's connections, lookup items and stream events, so
a fan-out's Query of one session's 500 connections sorted the 1,000+ items of the whole table first: most
of the embedded DynamoDB's time in a broadcast (bench/fanout.py --profile). Here, for the duration of such
a Query, `all_items()` of that table returns the queried partition only, sorted by range key as moto
sorts it; the rest of moto's Query (key condition, paging, limits, filter, projection) runs unchanged, so
its answer is the same (tests/local/test_moto_query.py compares both over generated tables). A Query that
projects skips moto's deep copy of the items it keeps: a filter only reads them, and the projection builds
new ones from plain values (`Item.project`), so nothing of the stored items is shared with the answer.

A projection (`Item.project`) turned the whole item into plain Python and back to pick a few attributes;
it now does that to the attributes the projection's paths start with only (moto's `find_nested_key`
looks nothing else up), and not at all where the values it picks are strings, booleans or numbers (the round
trip leaves the first two as they are and respells a number as boto3's Decimal context does): the same result
for a fraction of the work. A connection item's projection holds a number (its protocol version): without
numbers, every item of a fan-out's read took the round trip. The projected item is built without moto's
per-attribute size check (a projection is part of an item that passed it when stored), as moto's own
`Item.__deepcopy__` builds its copies.

moto measures every item a Query (or Scan) walks twice against the 1 MB page limit (`Item.size`), wrapping each
map value in a new DynamoType on the way: the larger part of a fan-out's Query. `Item.size` here adds up the
strings, numbers, booleans and nulls at the top of an item itself, by moto's own rules for them, and leaves
every other value (sets, lists, maps, binary) to moto's `DynamoType.size` (tests/local/test_moto_query.py
compares both over generated items). A string's `DynamoType.cast_value` (what moto sorts and compares sort keys by,
several times per item a Query walks) is its value at once, as moto's answers it after testing the other kinds.

Thread-safe (the narrowing is per thread), for moto's internals at the version requirements-dev.txt
pins. Applied once per process.
"""

from __future__ import annotations

import copy
import functools
import re
import threading
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT

# While a table's Query runs in this thread: .partition = (table, hash key), .projected = no copy needed.
_narrowed = threading.local()
_applied = False


def speed_up_queries() -> None:
    global _applied
    if _applied:
        return
    for owner, name, value in replacements():
        setattr(owner, name, value)
    _applied = True


def replacements() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, replacement) for each piece of moto this changes, wrapping moto's current ones:
    `speed_up_queries` sets them; the equivalence test sets them for its own duration only."""
    from moto.dynamodb.models import table as table_module
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.table import Table

    return [
        (Table, "query", _narrowing_query(Table.query)),
        (Table, "all_items", _narrowed_all_items(Table.all_items)),
        (table_module, "copy", _CopyUnlessProjected()),
        (Item, "project", _pruning_project(Item.project, Item)),
        (Item, "size", _item_size),
        (DynamoType, "cast_value", _string_cast_first(DynamoType.cast_value)),
    ]


class _CopyUnlessProjected:
    """Stands in for the `copy` module inside moto.dynamodb.models.table: the one deep copy a narrowed,
    projected Query makes (its kept items, a list of Items) is skipped."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: dict[int, Any] | None = None) -> Any:
        if getattr(_narrowed, "projected", False) and isinstance(value, list):
            return list(value)
        return copy.deepcopy(value, memo)


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], position: int, name: str) -> Any:
    """One of `Table.query`'s arguments after `hash_key`, passed by position or by name."""
    return args[position] if len(args) > position else kwargs.get(name)


def _narrowing_query(original: Any) -> Any:
    @functools.wraps(original)
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        if _argument(args, kwargs, 6, "index_name") is not None or hash_key is None or not self.range_key_attr:
            return original(self, hash_key, *args, **kwargs)
        _narrowed.partition = (self, hash_key)
        _narrowed.projected = bool(_argument(args, kwargs, 5, "projection_expressions"))
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            _narrowed.partition, _narrowed.projected = None, False

    return query


def _narrowed_all_items(original: Any) -> Any:
    @functools.wraps(original)
    def all_items(self: Any) -> list[Any]:
        narrowed = getattr(_narrowed, "partition", None)
        if narrowed is None or narrowed[0] is not self:
            return original(self)
        # Items are stored under their own hash key (DynamoType hashes and compares by type and cast
        # value), so this is exactly the partition moto's filter `item.hash_key == hash_key` keeps.
        partition = self.items.get(narrowed[1]) or {}
        return sorted(partition.values(), key=lambda item: item.range_key.cast_value)

    return all_items


_LIST_ELEMENT = re.compile(r"(.+)\[(\d+)\]$")  # moto's own test of a path element (`tags[1]`)


def _pruning_project(original: Any, item_type: type) -> Any:
    @functools.wraps(original)
    def project(self: Any, projection_expressions: list[list[str]]) -> Any:
        direct = _direct_projection(self, projection_expressions)
        if direct is not None:
            return _unchecked_item(item_type, self, direct)
        # moto's `find_nested_key` looks up a path's first element, or the attribute before its list index.
        heads = {path[0] for path in projection_expressions}
        heads |= {m.group(1) for head in heads if (m := _LIST_ELEMENT.match(head))}
        pruned = item_type.__new__(item_type)
        pruned.__dict__.update(self.__dict__, attrs={k: v for k, v in self.attrs.items() if k in heads})
        return original(pruned, projection_expressions)

    return project


def _string_cast_first(original: property) -> property:
    moto_cast = original.fget
    assert moto_cast is not None

    def cast_value(self: Any) -> Any:
        return self.value if self.type == "S" else moto_cast(self)

    return property(cast_value)


def _unchecked_item(item_type: type, stored: Any, attrs: dict[str, Any]) -> Any:
    """`Item(hash_key, range_key, attrs)` without LimitedSizeDict's size check on each attribute set (it sums the
    whole item's size again per attribute): `attrs` is a projection of `stored`, which passed that check."""
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    item = item_type.__new__(item_type)
    item.hash_key, item.range_key = stored.hash_key, stored.range_key
    checked = LimitedSizeDict.__new__(LimitedSizeDict)
    for name, value in attrs.items():
        dict.__setitem__(checked, name, DynamoType(value))
    item.attrs = checked
    return item


def _item_size(item: Any) -> int:
    """moto's `Item.size` (its attribute names' UTF-8 bytes plus each value's `DynamoType.size`), with the values
    that need no recursion measured here by the same rules: a string its UTF-8 bytes, a number the length of its
    spelling, a boolean or null 1."""
    total = 0
    for name, value in item.attrs.items():
        kind, plain = value.type, value.value
        total += len(name) if name.isascii() else len(name.encode())  # isascii() reads a flag: no copy
        if kind == "S" and type(plain) is str:
            total += len(plain) if plain.isascii() else len(plain.encode())
        elif kind == "N":
            total += len(str(plain))
        elif (kind == "BOOL" or kind == "NULL") and type(plain) is bool:
            total += 1
        else:
            total += value.size()
    return total


def _direct_projection(item: Any, paths: list[list[str]]) -> dict[str, Any] | None:
    """The projected attributes as DynamoDB JSON, when every path is plain names (through maps) and every
    value it reaches is a string, a boolean or a number: moto's round trip through plain Python leaves the first
    two as they are and respells a number the one way `_plain_value` does (a set it reorders), so this is its
    answer without the round trip. None when any path or value is of another kind: moto's own projection
    answers then."""
    result: dict[str, Any] = {}
    for path in paths:
        if any("[" in name for name in path):
            return None
        node = item.attrs.get(path[0])
        for name in path[1:]:
            if node is None:
                break
            if node.type != "M":
                return None
            node = node.value.get(name)
        if node is None:
            continue  # nothing to project: moto's projection leaves it out too
        value = _plain_value(node.type, node.value)
        if value is None:
            return None
        target = result
        for name in path[:-1]:
            target = target.setdefault(name, {"M": {}})["M"]
        target[path[-1]] = {node.type: value}
    return result


def _plain_value(kind: str, value: Any) -> Any:
    """A projected string, boolean or number as moto's round trip writes it; None for any other kind."""
    if kind == "S" and isinstance(value, str) or kind == "BOOL" and isinstance(value, bool):
        return value
    if kind == "N" and isinstance(value, str):
        try:  # boto3's deserializer reads it into this context's Decimal, its serializer writes str() of that
            return str(DYNAMODB_CONTEXT.create_decimal(value))
        except ArithmeticError:
            return None
    return None
