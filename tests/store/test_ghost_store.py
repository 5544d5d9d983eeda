"""The store's side of ghost sweeping: connections listed by age, and the conditional count repair."""

from __future__ import annotations

from session_schema import codec, keys
from session_schema.models import Connection

from tests.support.aws import TABLE_NAME
from tests.support.stream_writes import change_status


def _listener(store, session_id: str, n: int, connected_at: int) -> Connection:
    connection = Connection(
        connectionId=f"conn-{n}",
        sessionId=session_id,
        role="listener",
        connectedAt=connected_at,
        expiresAt=connected_at // 1000 + 10_800,
    )
    return store.register_connection(connection)  # as registered: in its partition


def _session(store, max_listeners: int = 10) -> str:
    session, _ = store.create_session(owner_id="owner", title="T", source_language="en", max_listeners=max_listeners)
    return session.sessionId


def test_connections_are_listed_by_registration_time_across_shards_and_pages(store):
    sid = _session(store, max_listeners=100)
    old = [_listener(store, sid, n, 1_000_000 + n) for n in range(40)]
    _listener(store, sid, 99, 5_000_000)  # registered after the cutoff
    listed = list(store.iter_connections_registered_before(2_000_000))
    assert sorted(c.connectionId for c in listed) == sorted(c.connectionId for c in old)
    assert all(c == next(o for o in old if o.connectionId == c.connectionId) for c in listed)
    store.unregister_connection("conn-3")  # a leave takes its lookup item, and so its index entry, with it
    assert "conn-3" not in {c.connectionId for c in store.iter_connections_registered_before(2_000_000)}


def test_repair_sets_the_count_to_the_registered_listeners(store, ddb):
    sid = _session(store)
    for n in range(3):
        _listener(store, sid, n, 1_000 + n)
    ddb.delete_item(TableName=TABLE_NAME, Key=codec.serialize_key(keys.connection_key(sid, "conn-0", None, 0)))
    assert store.repair_listener_count(sid) == (3, 2)
    assert store.get_session(sid).listenerCount == 2
    assert store.repair_listener_count(sid) is None  # right now: no write


def test_repair_loses_cleanly_to_a_join_between_its_read_and_its_write(store, ddb, monkeypatch):
    sid = _session(store)
    _listener(store, sid, 0, 1_000)
    ddb.delete_item(TableName=TABLE_NAME, Key=codec.serialize_key(keys.connection_key(sid, "conn-0", None, 0)))
    counted = store.registered_listeners

    def count_then_a_join(session):
        registered = counted(session)
        _listener(store, sid, 1, 2_000)  # moves listenerCount 1 -> 2 before the repair writes
        return registered

    monkeypatch.setattr(store, "registered_listeners", count_then_a_join)
    assert store.repair_listener_count(sid) is None  # its condition (count still 1) failed: no write
    assert store.get_session(sid).listenerCount == 2  # the join's increment stands; the next sweep repairs
    monkeypatch.undo()
    assert store.repair_listener_count(sid) == (2, 1)


def test_repair_leaves_ended_and_missing_sessions_alone(store):
    from session_schema.status import SessionStatus

    sid = _session(store)
    change_status(store, sid, SessionStatus.ENDED)
    assert store.repair_listener_count(sid) is None
    assert store.repair_listener_count("quiet-river-000") is None


def _channel_listener(store, session_id: str, n: int, channel: str) -> Connection:
    listener = _listener(store, session_id, n, 1_000 + n).model_copy(update={"channel": None})
    return store.switch_channel(listener, channel, head_seq=0)


def test_repair_sets_each_channels_count_to_the_listeners_registered_on_it(store, ddb):
    session, _ = store.create_session(
        owner_id="owner", title="T", source_language="en", max_listeners=10, channels=["en", "es", "fr"]
    )
    sid = session.sessionId
    on = {n: _channel_listener(store, sid, n, channel) for n, channel in enumerate(["es", "es", "fr"])}
    assert store.get_session(sid).channelCounts == {"en": 0, "es": 2, "fr": 1}
    # A crash between writes (or TTL) took one es listener's record without its leave: es and the total stay high.
    ddb.delete_item(TableName=TABLE_NAME, Key=codec.serialize_key(codec.connection_item_key(on[0])))
    assert store.repair_listener_count(sid) == (3, 2)
    assert store.get_session(sid).channelCounts == {"en": 0, "es": 1, "fr": 1}
    # Only a channel's count wrong (the total right): repaired too, the total said unchanged.
    ddb.update_item(
        TableName=TABLE_NAME,
        Key=codec.serialize_key(keys.session_key(sid)),
        UpdateExpression="SET channelCounts = :counts",
        ExpressionAttributeValues={":counts": {"M": {"en": {"N": "1"}, "es": {"N": "1"}, "fr": {"N": "0"}}}},
    )
    assert store.repair_listener_count(sid) == (2, 2)
    assert store.get_session(sid).channelCounts == {"en": 0, "es": 1, "fr": 1}
    assert store.repair_listener_count(sid) is None  # right now: no write


def test_a_channel_count_repair_loses_cleanly_to_a_switch_between_its_read_and_its_write(store, ddb, monkeypatch):
    session, _ = store.create_session(
        owner_id="owner", title="T", source_language="en", max_listeners=10, channels=["es", "fr"]
    )
    sid = session.sessionId
    gone, stays = _channel_listener(store, sid, 0, "es"), _channel_listener(store, sid, 1, "es")
    ddb.delete_item(TableName=TABLE_NAME, Key=codec.serialize_key(codec.connection_item_key(gone)))
    counted = store.registered_listeners

    def count_then_a_switch(read):
        registered = counted(read)
        store.switch_channel(stays, "fr", head_seq=0)  # moves es -> fr, the total unchanged
        return registered

    monkeypatch.setattr(store, "registered_listeners", count_then_a_switch)
    assert store.repair_listener_count(sid) is None  # the counts it read moved: no write
    assert store.get_session(sid).channelCounts == {"es": 1, "fr": 1}  # the switch's moves stand
    monkeypatch.undo()
    assert store.repair_listener_count(sid) == (2, 1)
    assert store.get_session(sid).channelCounts == {"es": 0, "fr": 1}
