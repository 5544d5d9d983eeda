"""The fan-out reads connections through a projection (expressions.TARGET_PROJECTION): only the sort key and the
role come back, legacy items included, and every shard of a session is read exactly once."""

from __future__ import annotations

import pytest

from session_schema import codec, keys
from session_schema.errors import CorruptRecord
from session_schema.models import Connection
from session_store import expressions as ex


def test_the_fan_out_query_asks_only_for_the_id_the_role_the_protocol_version_and_the_live_marks(store, ddb):
    session_id = store.create_session(owner_id="alice", title="t", source_language="en", max_listeners=10)[0].sessionId
    for i in range(3):
        store.register_connection(
            Connection(connectionId=f"conn{i}", sessionId=session_id, role="listener", connectedAt=1, expiresAt=2)
        )
    sent: list[dict] = []
    ddb.meta.events.register("provide-client-params.dynamodb.Query", lambda params, **_: sent.append(params))
    try:
        targets = list(store.iter_connection_targets(session_id))
    finally:
        ddb.meta.events.unregister("provide-client-params.dynamodb.Query")
    assert sorted(t.connectionId for t in targets) == ["conn0", "conn1", "conn2"]
    # One Query of the connection partition, one of the range code before channels used (the deploy window).
    projected = ["SK", "role", "Data.role", "protocolVersion", "liveFromSeq", "liveFromChannelSeq", "heldUntil"]
    assert [_projected(p) for p in sent] == [projected] * 2
    in_session = ex.PK.eq(keys.session_partition(session_id)) & ex.SK.begins_with(keys.CONN_PREFIX)
    query = ex.params(key_condition=in_session, projection=ex.TARGET_PROJECTION)
    raw = ddb.query(TableName=store.table_name, **query)["Items"]
    assert all(set(item) == {keys.SK, "role", "protocolVersion"} for item in raw)  # nothing else crosses the wire


def _projected(request: dict) -> list[str]:
    """The attribute paths a request's ProjectionExpression names, placeholders resolved."""
    names = request["ExpressionAttributeNames"]
    return [".".join(names[part] for part in path.split(".")) for path in request["ProjectionExpression"].split(", ")]


def test_a_legacy_data_wrapped_connection_is_read_with_its_role():
    legacy = {keys.SK: {"S": "CONN#old1"}, "Data": {"M": {"role": {"S": "speaker"}}}}
    read = codec.decode_target(legacy).model_dump(exclude_none=True)
    assert read == {"connectionId": "old1", "role": "speaker", "protocolVersion": 1}
    # Top-level wins over the wrapper, as in every other reader.
    both = {**legacy, "role": {"S": "listener"}}
    assert codec.decode_target(both).role == "listener"


@pytest.mark.parametrize(
    "item",
    [
        {keys.SK: {"S": "CONN#x1"}},  # no role anywhere
        {keys.SK: {"S": "CONN#x1"}, "role": {"S": "owner"}},  # not a role
        {keys.SK: {"S": "MSG#1"}, "role": {"S": "listener"}},  # not a connection
    ],
)
def test_an_item_no_reader_understands_is_corrupt_not_a_guess(item):
    with pytest.raises(CorruptRecord):
        codec.decode_target(item)


def test_shards_read_through_the_projection_cover_every_connection_once(store):
    session_id = store.create_session(owner_id="bob", title="t", source_language="en", max_listeners=10)[0].sessionId
    ids = [f"{c}conn{i}" for i, c in enumerate("AbZ09-_xQm")]
    for connection_id in ids:
        store.register_connection(
            Connection(connectionId=connection_id, sessionId=session_id, role="listener", connectedAt=1, expiresAt=2)
        )
    read = [t.connectionId for k in range(4) for t in store.iter_connection_targets(session_id, shard=(k, 4))]
    assert sorted(read) == sorted(ids)


def test_a_fan_out_read_asks_for_pages_that_double_from_the_first_up_to_the_largest(store, ddb):
    """A first page of `first_page_size`, then each Query's Limit twice the one before, up to `page_size`; each page
    continues where the one before stopped, so every connection is read once."""
    session_id = store.create_session(owner_id="alice", title="t", source_language="en", max_listeners=100)[0].sessionId
    for i in range(60):
        store.register_connection(
            Connection(connectionId=f"conn{i:02}", sessionId=session_id, role="listener", connectedAt=1, expiresAt=2)
        )
    sent: list[dict] = []
    ddb.meta.events.register("provide-client-params.dynamodb.Query", lambda params, **_: sent.append(dict(params)))
    try:
        read = list(store.iter_connection_targets(session_id, first_page_size=3, page_size=20))
    finally:
        ddb.meta.events.unregister("provide-client-params.dynamodb.Query")
    assert sorted(t.connectionId for t in read) == [f"conn{i:02}" for i in range(60)]
    in_connections = [p for p in sent if "ExclusiveStartKey" in p or p is sent[0]]
    # 3 + 6 + 12 + 20 + 19 = 60: the last page is not full, so no Query follows it.
    assert [p["Limit"] for p in in_connections] == [3, 6, 12, 20, 20]
