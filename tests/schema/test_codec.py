"""Every writer's item is read back equal by every reader; legacy shapes normalize; nothing legacy is written."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from session_schema import codec, keys
from session_schema.errors import CorruptRecord
from session_schema.models import Connection, Session
from session_schema.status import SessionStatus

from tests.support.strategies import (
    any_record,
    artifacts,
    connections,
    idempotency_records,
    messages,
    placed_connections,
    session_ids,
    sessions,
)

LEGACY_ATTRIBUTES = {"Data", "isActive", "requestId"}


@given(any_record)
def test_every_record_reads_back_equal(record):
    assert codec.decode(codec.encode(record)) == record


@given(connections | placed_connections)
def test_a_connection_reads_back_equal_from_its_lookup_item_and_its_entry_from_its_session(connection: Connection):
    lookup = codec.encode(connection)
    assert {k: lookup[k]["S"] for k in (keys.PK, keys.SK)} == keys.connection_lookup_key(connection.connectionId)
    assert codec.decode(lookup) == connection
    entry = codec.encode(connection.entry())
    assert {k: entry[k]["S"] for k in (keys.PK, keys.SK)} == codec.connection_item_key(connection)
    if connection.partition is not None:  # never written under the old key (channels moved them)
        assert codec.decode_entry(entry) == codec.decode(entry) == connection.entry()


@given(any_record)
def test_the_codec_writes_only_the_canonical_shape(record):
    document = codec.deserialize(codec.encode(record))
    assert not LEGACY_ATTRIBUTES & document.keys()
    assert document["schemaVersion"] == 1
    assert document[keys.KIND_ATTRIBUTE] == codec.KIND_OF[type(record)]
    assert codec.is_canonical(codec.encode(record))


def _legacy_variants(document: dict, draw) -> dict:
    """Apply any combination of the shapes older writers produced."""
    legacy = dict(document)
    legacy.pop(keys.KIND_ATTRIBUTE)
    if draw(st.booleans()):
        legacy.pop("schemaVersion")
    if "sessionId" in legacy and draw(st.booleans()):
        legacy["requestId"] = legacy.pop("sessionId")
    if legacy.get("status") in ("active", "ended") and "ownerId" in legacy and draw(st.booleans()):
        legacy["isActive"] = legacy.pop("status") == "active"
    if draw(st.booleans()):
        key_names = set(keys.TABLE.key_attributes())
        legacy = {
            **{k: v for k, v in legacy.items() if k in key_names},
            "Data": {k: v for k, v in legacy.items() if k not in key_names},
        }
    return legacy


@given(any_record, st.data())
def test_every_legacy_shape_normalizes_to_the_canonical_record(record, data):
    document = codec.deserialize(codec.encode(record))
    legacy = _legacy_variants(document, data.draw)
    assert codec.decode(codec.serialize(legacy)) == record
    assert not codec.is_canonical(codec.serialize(legacy)) or legacy == document


def test_the_field_bugs_legacy_session_reads_as_active():
    legacy_item = codec.serialize(
        {
            "PK": "SESSION#quiet-river-482",
            "SK": "META",
            "Data": {"requestId": "quiet-river-482", "ownerId": "user-a", "isActive": True, "createdAt": 1700000000000},
        }
    )
    session = codec.decode_as(legacy_item, Session)
    assert session.sessionId == "quiet-river-482"
    assert session.status is SessionStatus.ACTIVE
    assert session.schemaVersion == 1
    assert session.updatedAt == 1700000000000
    inactive = codec.serialize(
        {"PK": "SESSION#quiet-river-483", "SK": "META", "ownerId": "u", "isActive": False, "createdAt": 1}
    )
    assert codec.decode_as(inactive, Session).status is SessionStatus.ENDED


def test_a_session_stored_without_an_epoch_reads_with_the_same_derived_one_every_time():
    def legacy(session_id: str, created_at: int) -> dict:
        return {"PK": f"SESSION#{session_id}", "SK": "META", "ownerId": "u", "createdAt": created_at}


    first = codec.decode_as(codec.serialize(legacy("quiet-river-482", 5)), Session)
    again = codec.decode_as(codec.serialize(legacy("quiet-river-482", 5)), Session)
    other = codec.decode_as(codec.serialize(legacy("quiet-river-483", 5)), Session)
    assert first.epoch == again.epoch != other.epoch
    assert first.seq == 0 and first.public_view()["epoch"] == first.epoch
    assert not codec.is_canonical(codec.serialize(legacy("quiet-river-482", 5)))  # the migration writes it


def _stored_keys(record):
    found = [codec.key_of(record)]
    if isinstance(record, Connection):  # its lookup item, and its entry in its session
        found.append(codec.connection_item_key(record))
    return [(k["PK"], k["SK"]) for k in found]


@settings(max_examples=200)
@given(any_record, any_record)
def test_keys_of_different_records_never_collide(a, b):
    if type(a) is not type(b):
        assert not set(_stored_keys(a)) & set(_stored_keys(b))


@settings(max_examples=200)
@given(st.data())
def test_records_that_share_every_id_they_can_still_never_share_a_key(data):
    """The hard case for key design: one session's records, the same string as session, connection,
    owner and idempotency key, where each kind's pattern allows it. Only the typed prefixes keep them apart."""
    shared = data.draw(session_ids)  # also a valid connection ID, user ID and idempotency key
    records = [
        data.draw(sessions()).model_copy(update={"sessionId": shared, "ownerId": shared}),
        data.draw(connections).model_copy(update={"sessionId": shared, "connectionId": shared}),
        data.draw(messages).model_copy(update={"sessionId": shared}),
        data.draw(artifacts()).model_copy(update={"sessionId": shared}),
        data.draw(idempotency_records).model_copy(update={"ownerId": shared, "key": shared, "sessionId": shared}),
    ]
    stored = [key for record in records for key in _stored_keys(record)]
    assert len(stored) == len(set(stored)), stored


def test_a_field_beside_the_data_wrapper_wins_over_the_wrapped_one():
    """Older code wrapped items in `Data`, later code updated fields at the top: the top level is newer."""
    item = codec.serialize(
        {
            "PK": "SESSION#quiet-river-482",
            "SK": "META",
            "Data": {
                "sessionId": "quiet-river-482",
                "ownerId": "user-a",
                "status": "active",
                "title": "old",
                "createdAt": 1,
            },
            "status": "ended",
            "title": "new",
        }
    )
    session = codec.decode_as(item, Session)
    assert (session.status, session.title) == (SessionStatus.ENDED, "new")


def test_an_artifact_whose_stored_path_is_not_derived_from_its_session_is_corrupt():
    """The `<userId>/<requestId>/...` bug: a path built from another ID must never be read as the artifact's."""
    good = {
        "PK": "SESSION#quiet-river-482",
        "SK": "ART#art_01J0000000000000000000000A",
        "sessionId": "quiet-river-482",
        "artifactId": "art_01J0000000000000000000000A",
        "ownerId": "user-a",
        "kind": "image",
        "contentType": "image/png",
        "fileName": "room.png",
        "objectKey": "user-a/quiet-river-482/image/art_01J0000000000000000000000A/room.png",
        "status": "pending",
        "createdAt": 1,
        "updatedAt": 1,
    }
    assert codec.decode(codec.serialize(good)).objectKey == good["objectKey"]
    wrong = {**good, "objectKey": "user-a/req-7f3a9/image/art_01J0000000000000000000000A/room.png"}
    with pytest.raises(CorruptRecord):
        codec.decode(codec.serialize(wrong))


@given(sessions())
def test_changes_bring_the_stored_item_to_the_encoded_one(session):
    after = session.model_copy(update={"status": SessionStatus.ENDED, "speakerlessSince": None, "endedAt": 5})
    change = codec.changes(after, ["status", "speakerlessSince", "endedAt"])
    item = codec.encode(session)
    item.update(change.set)
    for name in change.remove:
        item.pop(name, None)
    assert codec.decode(item) == after
    # An ended session leaves the speakerless index; with an expiry it is listed for its retention's end instead.
    if after.expiresAt is None:
        assert keys.GSI2PK not in item
    else:
        assert item[keys.GSI2PK]["S"].startswith(keys.RETIRING_PREFIX)


def test_an_item_of_no_known_kind_is_corrupt_not_guessed():
    with pytest.raises(CorruptRecord):
        codec.decode(codec.serialize({"PK": "OTHER#1", "SK": "x"}))
    with pytest.raises(CorruptRecord):
        codec.decode(codec.serialize({"PK": "SESSION#quiet-river-482", "SK": "META", "status": "running"}))
