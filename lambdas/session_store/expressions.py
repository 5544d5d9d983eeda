"""Every DynamoDB expression the store sends, built from attribute names the schema declares.

DynamoDB accepts a misspelt attribute without complaint (`listnerCount < maxListeners` is simply false, so
every join would be refused as "full"), so no expression is written out by hand. An attribute is named through
`field(Model, name)` (a field of a record, checked against the model when the handle is made: a typo fails at
import) or `key(name)` (an attribute of the table's keys); conditions compose with `&` and `|`; `params`
renders one request's expressions with one set of `#name` / `:value` placeholders, so parts built apart never
collide. Rendering checks every name once more against `DECLARED`. `stored(name)` is the one way to name an
attribute the schema does not declare: one found on an item read back (legacy.py's guard on a legacy item).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from session_schema import codec, keys
from session_schema.models import ConnectionEntry, Record, Session
from session_schema.status import SessionStatus, is_joinable

# Every attribute a writer of this table sets (the records' fields, the keys, the kind tag), and the wrapper
# older code kept fields in (read by the fan-out's projection).
DECLARED: frozenset[str] = (
    frozenset(name for model in codec.MODEL_OF.values() for name in model.model_fields)
    | frozenset(keys.TABLE.key_attributes())
    | {keys.KIND_ATTRIBUTE, codec.LEGACY_WRAPPER, codec.CONNECTION_KEY_ATTRIBUTE}
)
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class Raw:
    """A value already serialized as DynamoDB holds it (one read back from an item)."""

    av: codec.AttributeValue


Operand = Any  # a Python value (serialized by codec.value), a Raw attribute value, or an Attr


class _Render:
    """The placeholders of one request: one `#name` per attribute, one `:value` per distinct value."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, codec.AttributeValue] = {}

    def name(self, attribute: Attr) -> str:
        last_named = len(attribute.path) - attribute.map_keys
        return ".".join(
            self._name(part, attribute.checked and index < last_named) for index, part in enumerate(attribute.path)
        )

    def _name(self, name: str, checked: bool) -> str:
        if checked and name not in DECLARED:
            raise KeyError(f"no record declares the attribute {name!r}")
        for placeholder, known in self.names.items():
            if known == name:
                return placeholder
        placeholder = f"#{name}" if _IDENTIFIER.fullmatch(name) else f"#n{len(self.names)}"
        self.names[placeholder] = name
        return placeholder

    def operand(self, operand: Operand) -> str:
        if isinstance(operand, Attr):
            return self.name(operand)
        av = operand.av if isinstance(operand, Raw) else codec.value(operand)
        for placeholder, known in self.values.items():
            if known == av:
                return placeholder
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = av
        return placeholder


@dataclass(frozen=True)
class Condition:
    """A condition (or key condition) expression, rendered when its request is."""

    render: Callable[[_Render], str]

    def __and__(self, other: Condition) -> Condition:
        return Condition(lambda r: f"{self.render(r)} AND {other.render(r)}")

    def __or__(self, other: Condition) -> Condition:
        return Condition(lambda r: f"({self.render(r)} OR {other.render(r)})")


@dataclass(frozen=True)
class Attr:
    """One attribute (or a path into a map attribute) an expression names."""

    path: tuple[str, ...]
    checked: bool = True  # False only for `stored` names
    map_keys: int = 0  # the last parts of `path` that are keys inside a map (data, not attribute names)

    @property
    def name(self) -> str:
        """The top-level attribute's name (for codec changes, which take field names)."""
        return self.path[0]

    def dot(self, child: Attr) -> Attr:
        return Attr(self.path + child.path, self.checked and child.checked)

    def entry(self, key: str) -> Attr:
        """The entry `key` of this map attribute (`channelCounts.es`)."""
        return Attr((*self.path, key), self.checked, self.map_keys + 1)

    def contains(self, operand: Operand) -> Condition:
        return Condition(lambda r: f"contains({r.name(self)}, {r.operand(operand)})")

    def _compare(self, operator: str, operand: Operand) -> Condition:
        return Condition(lambda r: f"{r.name(self)} {operator} {r.operand(operand)}")

    def eq(self, operand: Operand) -> Condition:
        return self._compare("=", operand)

    def ne(self, operand: Operand) -> Condition:
        return self._compare("<>", operand)

    def lt(self, operand: Operand) -> Condition:
        return self._compare("<", operand)

    def gt(self, operand: Operand) -> Condition:
        return self._compare(">", operand)

    def is_in(self, operands: Iterable[Operand]) -> Condition:
        listed = tuple(operands)
        return Condition(lambda r: f"{r.name(self)} IN ({', '.join(r.operand(o) for o in listed)})")

    def between(self, low: Operand, high: Operand) -> Condition:
        return Condition(lambda r: f"{r.name(self)} BETWEEN {r.operand(low)} AND {r.operand(high)}")

    def begins_with(self, prefix: Operand) -> Condition:
        return Condition(lambda r: f"begins_with({r.name(self)}, {r.operand(prefix)})")

    def size_gt(self, operand: Operand) -> Condition:
        """The attribute's size (a map's entries, a string's length) is more than `operand`."""
        return Condition(lambda r: f"size({r.name(self)}) > {r.operand(operand)}")

    def exists(self) -> Condition:
        return Condition(lambda r: f"attribute_exists({r.name(self)})")

    def absent(self) -> Condition:
        return Condition(lambda r: f"attribute_not_exists({r.name(self)})")


def field(model: type[Record], name: str) -> Attr:
    """A field of `model` (KeyError when it has none)."""
    if name not in model.model_fields:
        raise KeyError(f"{model.__name__} has no field {name}")
    return Attr((name,))


def key(name: str) -> Attr:
    """An attribute of the table's (or an index's) keys, or the kind tag."""
    if name not in frozenset(keys.TABLE.key_attributes()) | {keys.KIND_ATTRIBUTE}:
        raise KeyError(f"{name} is not a key attribute")
    return Attr((name,))


def stored(name: str) -> Attr:
    """An attribute found on an item read back, whatever wrote it (unchecked: only for guards on that item)."""
    return Attr((name,), checked=False)


def every(conditions: Iterable[Condition]) -> Condition:
    """All of `conditions` (at least one)."""
    parts = list(conditions)
    if not parts:
        raise ValueError("no condition")
    return Condition(lambda r: " AND ".join(part.render(r) for part in parts))


def _update_expression(
    r: _Render,
    change: codec.Changes,
    add: Mapping[Attr, int],
    increments: Mapping[Attr, int],
    assign: Mapping[Attr, Operand],
    defaults: Mapping[Attr, Operand],
) -> str:
    clauses = []
    sets = [f"{r.name(Attr((n,)))} = {r.operand(Raw(av))}" for n, av in change.set.items()]
    # Values at paths (an entry of a map), and attributes set only when absent (a map its entries go into).
    sets += [f"{r.name(a)} = {r.operand(v)}" for a, v in assign.items()]
    sets += [f"{r.name(a)} = if_not_exists({r.name(a)}, {r.operand(v)})" for a, v in defaults.items()]
    # A number inside a map (ADD takes top-level attributes only): an entry not there yet counts from 0.
    sets += [
        f"{r.name(a)} = if_not_exists({r.name(a)}, {r.operand(0)}) + {r.operand(v)}" for a, v in increments.items()
    ]
    if sets:
        clauses.append("SET " + ", ".join(sets))
    if change.remove:
        clauses.append("REMOVE " + ", ".join(r.name(Attr((n,))) for n in change.remove))
    if add:
        clauses.append("ADD " + ", ".join(f"{r.name(a)} {r.operand(v)}" for a, v in add.items()))
    return " ".join(clauses)


def params(
    *,
    update: codec.Changes | None = None,
    add: Mapping[Attr, int] | None = None,
    increments: Mapping[Attr, int] | None = None,
    assign: Mapping[Attr, Operand] | None = None,
    defaults: Mapping[Attr, Operand] | None = None,
    condition: Condition | None = None,
    key_condition: Condition | None = None,
    filter_condition: Condition | None = None,
    projection: Sequence[Attr] = (),
) -> dict[str, Any]:
    """The expression parameters of one request (UpdateExpression with SET / REMOVE from a codec change and
    numeric ADDs, `increments` of numbers inside maps, `assign` of values at paths, `defaults` set when absent,
    ConditionExpression, KeyConditionExpression,
    FilterExpression, ProjectionExpression) and the names and values they use; the attribute maps are left out
    when empty (DynamoDB refuses empty ones)."""
    r = _Render()
    request: dict[str, Any] = {}
    if update is not None or add or increments or assign or defaults:
        request["UpdateExpression"] = _update_expression(
            r, update or codec.Changes(), add or {}, increments or {}, assign or {}, defaults or {}
        )
    if condition is not None:
        request["ConditionExpression"] = condition.render(r)
    if key_condition is not None:
        request["KeyConditionExpression"] = key_condition.render(r)
    if filter_condition is not None:
        request["FilterExpression"] = filter_condition.render(r)
    if projection:
        request["ProjectionExpression"] = ", ".join(r.name(a) for a in projection)
    if r.names:
        request["ExpressionAttributeNames"] = r.names
    if r.values:
        request["ExpressionAttributeValues"] = r.values
    return request


# ---------------------------------------------------------------- what many requests share

PK, SK = key(keys.PK), key(keys.SK)
ITEM_EXISTS = PK.exists()
NEW_ITEM = PK.absent()  # a put that never overwrites
SESSION_STATUS = field(Session, "status")
# "The session is joinable": the statuses status.is_joinable accepts, in declaration order.
JOINABLE = SESSION_STATUS.is_in(s for s in SessionStatus if is_joinable(s))

# What a fan-out reads of a connection item: its sort key (the connection ID) and its role, also where a legacy
# item keeps it inside its `Data` wrapper (codec.decode_target reads it), the protocol version it declared (what
# frames it is sent), and from which seq of each stream it takes live events. A fraction of the item.
_ROLE = field(ConnectionEntry, "role")
TARGET_PROJECTION: tuple[Attr, ...] = (
    SK,
    _ROLE,
    Attr((codec.LEGACY_WRAPPER,)).dot(_ROLE),
    field(ConnectionEntry, "protocolVersion"),
    field(ConnectionEntry, "liveFromSeq"),
    field(ConnectionEntry, "liveFromChannelSeq"),
    field(ConnectionEntry, "heldUntil"),
)
