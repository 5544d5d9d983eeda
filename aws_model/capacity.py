"""DynamoDB capacity units from item sizes, by DynamoDB's published rules.

moto answers every request with constant consumed capacity, so units are computed here from the items a
request reads or writes. Items are in DynamoDB's wire format (`{"name": {"S": "..."}}`), as botocore's
low-level client sends and receives them.

Item size (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
the sum over attributes of the UTF-8 length of the name plus the value's size: a string its UTF-8 length;
a number 1 byte per two significant digits plus 1 (leading and trailing zeros trimmed); a binary its raw
length; a null or Boolean 1 byte; a list or map 3 bytes plus 1 byte per element plus its elements.

Units (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html):
- a read is rounded up to 4 KB: 1 unit per 4 KB strongly consistent, 0.5 eventually consistent, 2
  transactional; requesting a subset of attributes (a projection) does not change the size counted; reading
  an item that does not exist still consumes the minimum;
- a Query sums the sizes of all the items of its page, then rounds up to 4 KB once (a BatchGetItem
  rounds each item);
- a write is rounded up to 1 KB, 1 unit per KB, 2 in a transaction; a PutItem or UpdateItem counts the
  larger of the item before and after, a DeleteItem the deleted item; a write whose condition fails
  still consumes units for the existing item (at least 1);
- a global secondary index pays its own write units for the item copies it stores
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations.Writes):
  one write when an item enters, changes in or leaves it, two when its index key changes (delete + put).
  Every index here projects all attributes.

Two assumptions the pages leave open, stated here once: a `ConditionCheck` in TransactWriteItems is
counted as a transactional read of its item, and a cancelled transaction as a failed condition on each of
its writes (the transactional units of the existing item, at least 2).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Item = Mapping[str, Mapping[str, Any]]
Consistency = Literal["eventual", "strong", "transactional"]

READ_UNIT_BYTES = 4 * 1024
WRITE_UNIT_BYTES = 1024
_READ_FACTOR: dict[Consistency, float] = {"eventual": 0.5, "strong": 1.0, "transactional": 2.0}
_CONTAINER_OVERHEAD = 3  # a list or map, whatever it holds
_ELEMENT_OVERHEAD = 1  # each element of a list or map


@dataclass(frozen=True)
class Units:
    """Read and write units one request (or several, added up) consumed."""

    read: float = 0.0
    write: float = 0.0

    def __add__(self, other: Units) -> Units:
        return Units(self.read + other.read, self.write + other.write)


@dataclass(frozen=True)
class KeySchema:
    """The key attribute names of a table and of its global secondary indexes (sort keys may be absent)."""

    partition_key: str
    sort_key: str | None = None
    indexes: tuple[tuple[str, str | None], ...] = ()

    def key_of(self, item: Item) -> dict[str, Mapping[str, Any]]:
        names = (self.partition_key, self.sort_key) if self.sort_key else (self.partition_key,)
        return {name: item[name] for name in names}


# -- sizes ------------------------------------------------------------------------------------------------


def item_size(item: Item | None) -> int:
    """DynamoDB's size of an item in bytes (0 for no item)."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def value_size(value: Mapping[str, Any]) -> int:
    """The size of one attribute value (without its name)."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return number_size(str(raw))
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(member).encode()) for member in raw)
    if kind == "NS":
        return sum(number_size(str(member)) for member in raw)
    if kind == "BS":
        return sum(len(member) for member in raw)
    if kind == "L":
        return _CONTAINER_OVERHEAD + sum(_ELEMENT_OVERHEAD + value_size(element) for element in raw)
    if kind == "M":
        return _CONTAINER_OVERHEAD + sum(
            _ELEMENT_OVERHEAD + len(name.encode()) + value_size(element) for name, element in raw.items()
        )
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def number_size(text: str) -> int:
    """1 byte per two significant digits, plus 1: zeros that only place the point are not significant."""
    significant = text.lower().split("e")[0].lstrip("+-").replace(".", "").strip("0")
    return math.ceil(len(significant) / 2) + 1


# -- units ------------------------------------------------------------------------------------------------


def read_units(size: int, consistency: Consistency = "strong") -> float:
    """Units to read `size` bytes as one request: rounded up to 4 KB, at least one 4 KB unit."""
    return max(1, math.ceil(size / READ_UNIT_BYTES)) * _READ_FACTOR[consistency]


def write_units(size: int, transactional: bool = False) -> float:
    """Units to write an item of `size` bytes: rounded up to 1 KB, at least one unit."""
    return max(1, math.ceil(size / WRITE_UNIT_BYTES)) * (2.0 if transactional else 1.0)


def get_item(item: Item | None, consistency: Consistency = "eventual") -> Units:
    """GetItem, and each item of a BatchGetItem or TransactGetItems (each rounded on its own)."""
    return Units(read=read_units(item_size(item), consistency))


def query_page(items: Iterable[Item], consistency: Consistency = "eventual") -> Units:
    """One Query (or Scan) page: the items' sizes summed, then rounded up to 4 KB once. Give the items
    whole: a projection does not reduce what DynamoDB counts."""
    return Units(read=read_units(sum(item_size(item) for item in items), consistency))


def write(
    before: Item | None,
    after: Item | None,
    schema: KeySchema | None = None,
    *,
    transactional: bool = False,
    condition_failed: bool = False,
) -> Units:
    """A PutItem, UpdateItem or DeleteItem (or one such action of a TransactWriteItems or BatchWriteItem):
    `before` and `after` are the whole item before and after the request (None where there is none).

    With a `schema`, the global secondary indexes' writes are added (only when the write happened)."""
    if condition_failed:
        return Units(write=write_units(item_size(before), transactional))
    table = write_units(max(item_size(before), item_size(after)), transactional)
    indexes = index_writes(before, after, schema.indexes, transactional) if schema else 0.0
    return Units(write=table + indexes)


def index_writes(
    before: Item | None,
    after: Item | None,
    indexes: Sequence[tuple[str, str | None]],
    transactional: bool = False,
) -> float:
    """Write units the indexes (all attributes projected) consume for one item's change."""
    if before == after:
        return 0.0
    total = 0.0
    for partition_key, sort_key in indexes:
        names = [name for name in (partition_key, sort_key) if name]
        old_key = _index_key(before, names)
        new_key = _index_key(after, names)
        if old_key is None and new_key is None:
            continue
        if old_key is not None and new_key is not None and old_key != new_key:
            total += write_units(item_size(before), transactional) + write_units(item_size(after), transactional)
        else:  # enters, changes within, or leaves the index: one write of the larger copy
            total += write_units(max(item_size(before), item_size(after)), transactional)
    return total


def _index_key(item: Item | None, names: Sequence[str]) -> tuple[Any, ...] | None:
    if not item or any(name not in item for name in names):
        return None
    return tuple(tuple(item[name].items()) for name in names)
