"""A connection's entry in its session (the item every fan-out Queries) is compact: written with only what its
readers need and its keys do not say, read back equal by every reader, and an entry in the whole shape older code
wrote reads as the same entry (no migration)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from session_schema import codec, keys
from session_schema.errors import CorruptRecord
from session_schema.models import Connection, ConnectionEntry, ConnectionTarget

from aws_model.capacity import item_size
from tests.support.strategies import placed_connections

# What the fan-out's projection reads of an entry (session_store.expressions.TARGET_PROJECTION).
TARGET_ATTRIBUTES = (
    keys.SK, "role", "protocolVersion", "liveFromSeq", "liveFromChannelSeq", "heldUntil", codec.LEGACY_WRAPPER
)  # fmt: skip


def _projected(item: codec.Item) -> codec.Item:
    return {name: value for name, value in item.items() if name in TARGET_ATTRIBUTES}


def _applied(item: codec.Item, change: codec.Changes) -> codec.Item:
    """An item after an UpdateItem of `change` (SET, then REMOVE)."""
    return {name: value for name, value in {**item, **change.set}.items() if name not in change.remove}


def _reads(item: codec.Item) -> list[Any]:
    """What every reader of an entry makes of it, as comparable views."""
    target = codec.decode_target(_projected(item))
    return [codec.decode(item), codec.decode_entry(item), target]


def _expected(entry: ConnectionEntry) -> list[Any]:
    target = {"connectionId": entry.connectionId, "role": entry.role, "protocolVersion": entry.protocolVersion}
    target |= {"channel": entry.channel}
    target |= {"liveFromSeq": entry.liveFromSeq, "liveFromChannelSeq": entry.liveFromChannelSeq}
    target |= {"heldUntil": entry.heldUntil}
    return [entry, entry, ConnectionTarget.model_validate(target)]


def _legacy_whole(connection: Connection, data: st.DataObject) -> codec.Item:
    """The entry as code before compact entries wrote it (the whole record, tagged), in the shapes older writers
    also left: untagged, without schemaVersion."""
    document = codec.deserialize(codec.legacy_connection_item(connection))
    for name in (keys.KIND_ATTRIBUTE, "schemaVersion"):
        if data.draw(st.booleans()):
            document.pop(name)
    return codec.serialize(document)


@given(placed_connections, st.data())
def test_every_writer_of_an_entry_is_read_back_equal_by_every_reader(connection: Connection, data):
    entry = connection.entry()
    registered = codec.encode(entry)  # `$connect`, a channel switch's put
    assert _reads(registered) == _expected(entry)
    assert codec.is_canonical(registered)  # `make migrate` leaves it as it is
    # A recovering join's hold, its release (stream_log.py): SET and REMOVE on the entry, never a rewrite; the
    # channel stream's mark only on a connection on a channel.
    on_channel = ("liveFromChannelSeq",) if entry.channel is not None else ()
    hold = {"liveFromSeq": 2**53, **dict.fromkeys(on_channel, 2**53), "heldUntil": data.draw(st.integers(0, 10**12))}
    held = _applied(registered, codec.partial_changes(ConnectionEntry, hold))
    assert _reads(held) == _expected(entry.model_copy(update=hold))
    live_from = {name: data.draw(st.integers(1, 10**9)) for name in ("liveFromSeq", *on_channel)}
    released = _applied(held, codec.partial_changes(ConnectionEntry, live_from, ("heldUntil",)))
    assert _reads(released) == _expected(entry.model_copy(update={**live_from, "heldUntil": None}))


@given(placed_connections, st.data())
def test_an_entry_older_code_wrote_whole_reads_as_the_same_entry(connection: Connection, data):
    legacy = _legacy_whole(connection, data)
    assert _reads(legacy) == _expected(connection.entry())
    assert codec.canonical_item(legacy) == codec.encode(connection.entry())  # `make migrate` would compact it
    assert not codec.is_canonical(legacy)


@given(placed_connections)
def test_a_compact_entry_holds_no_attribute_its_keys_or_defaults_already_say(connection: Connection):
    entry = connection.entry()
    item = codec.encode(entry)
    said_by_keys = {keys.KIND_ATTRIBUTE, "schemaVersion", *ConnectionEntry.KEY_FIELDS}
    assert not said_by_keys & item.keys()
    own = {
        name
        for name, value in entry
        if name not in said_by_keys and value != ConnectionEntry.model_fields[name].default
    }
    assert item.keys() == {keys.PK, keys.SK, *own}
    # So it is billed for its keys and its own fields and nothing else: less than the whole record older code wrote
    # there by at least every attribute that repeated what the keys say or only the lookup needs.
    whole = codec.legacy_connection_item(connection)
    assert item_size(item) == item_size(whole) - item_size({n: v for n, v in whole.items() if n not in item})
    repeated = {n: v for n, v in whole.items() if n in said_by_keys or n in {"userId", "connectedAt"}}
    assert item_size(item) <= item_size(whole) - item_size(repeated)


@given(placed_connections)
def test_a_channel_switch_points_the_lookup_at_the_entry_it_writes(connection: Connection):
    moved = connection.model_copy(update={"channel": None if connection.channel else "es", "partition": 0})
    lookup = _applied(codec.encode(connection), codec.connection_moves(moved))
    assert codec.decode(lookup) == moved
    assert codec.deserialize(lookup)[codec.CONNECTION_KEY_ATTRIBUTE] == codec.connection_item_key(moved)
    assert codec.decode_entry(codec.encode(moved.entry())) == moved.entry()


@pytest.mark.parametrize(
    ("pk", "sk"),
    [
        ("CONNS#quiet-river-482", "C##conn-1"),
        ("CONNS#quiet-river-482#x", "C##conn-1"),
        ("CONNS#quiet-river-482#0", "C#"),
    ],
)
def test_an_entry_whose_keys_name_no_connection_is_a_corrupt_record(pk: str, sk: str):
    item = codec.serialize({keys.PK: pk, keys.SK: sk, "role": "listener", "expiresAt": 1})
    with pytest.raises(CorruptRecord):
        codec.decode_entry(item)
