"""A connection's entry in its session is written compact (what the fan-out and the sweep read, nothing the lookup
item holds), and entries the code before wrote whole keep working through every path: the fan-out, a recovering
join's hold and release, a channel switch, a leave, the sweep's half registrations and the ghost probe."""

from __future__ import annotations

from session_schema import codec, keys
from session_schema.models import Connection, ConnectionEntry, Session
from session_store.store import SessionStore

from tests.support.aws import TABLE_NAME

MAP_KEYS = ("es",)  # the channel whose count the switches move (tests/store/conftest.py)


def _session(store: SessionStore, partitions: int = 2) -> Session:
    session, _ = store.create_session(
        owner_id="speaker-1", title="t", source_language="en", max_listeners=50, channels=("es",),
        connection_partitions=partitions,
    )  # fmt: skip
    return session


def _listener(session: Session, n: int, *, connected_at: int = 1, channel: str | None = None) -> Connection:
    return Connection(
        connectionId=f"conn{n:03d}", sessionId=session.sessionId, role="listener", userId=f"user-{n}",
        connectedAt=connected_at, expiresAt=1_000 + n, protocolVersion=2, channel=channel,
    )  # fmt: skip


def _raw(ddb, key: dict[str, str]) -> dict | None:
    return ddb.get_item(TableName=TABLE_NAME, Key=codec.serialize_key(key), ConsistentRead=True).get("Item")


def _written_whole(store: SessionStore, ddb, connection: Connection) -> Connection:
    """`connection` registered, then its entry rewritten whole, as the code before compact entries wrote it."""
    registered = store.register_connection(connection)
    ddb.put_item(TableName=TABLE_NAME, Item=codec.legacy_connection_item(registered))
    return registered


def test_a_registration_writes_a_compact_entry_and_the_whole_connection_on_its_lookup(store, ddb):
    session = _session(store)
    registered = store.register_connection(_listener(session, 1, channel="es"))
    entry = _raw(ddb, codec.connection_item_key(registered))
    assert entry is not None and set(entry) == {keys.PK, keys.SK, "role", "expiresAt", "protocolVersion"}
    assert store.get_connection(registered.connectionId) == registered  # userId, connectedAt: on the lookup
    assert list(store.iter_connections(session.sessionId)) == [registered.entry()]
    # Repeatable: the same registration again finds its lookup as it writes it, and succeeds without a second seat.
    assert store.register_connection(_listener(session, 1, channel="es")) == registered
    assert store.get_session(session.sessionId, consistent=True).listenerCount == 1


def test_an_entry_written_whole_by_the_code_before_reads_switches_and_leaves_as_a_compact_one(store, ddb):
    session = _session(store)
    compact = store.register_connection(_listener(session, 1))
    whole = _written_whole(store, ddb, _listener(session, 2))
    assert sorted(store.iter_connections(session.sessionId), key=lambda c: c.connectionId) == [
        compact.entry(),
        whole.entry(),
    ]
    targets = {t.connectionId: t for t in store.iter_connection_targets(session.sessionId)}
    assert {t.protocolVersion for t in targets.values()} == {2} and set(targets) == {"conn001", "conn002"}
    # A recovering join holds and releases it in place (SET/REMOVE on the old shape).
    assert store.hold_connection(whole, for_ms=5_000)
    assert store.release_connection(store.read_head(session.sessionId), whole) is None
    assert {t.connectionId: t.liveFromSeq for t in store.iter_connection_targets(session.sessionId)}["conn002"] == 1
    # A switch writes it compact, keeps the release's mark, points the lookup there, and returns it whole.
    moved = store.switch_channel(whole, "es", head_seq=0)
    assert (moved.channel, moved.userId, moved.connectedAt, moved.liveFromSeq) == ("es", "user-2", 1, 1)
    assert _raw(ddb, codec.connection_item_key(whole)) is None
    assert "userId" not in (_raw(ddb, codec.connection_item_key(moved)) or {"userId": "missing"})
    on_es = whole.model_copy(update={"channel": "es"})  # the lookup: the marks are its entry's alone
    assert store.get_connection(whole.connectionId) == on_es
    assert store.get_session(session.sessionId, consistent=True).channelCounts["es"] == 1
    assert store.unregister_connection(whole.connectionId) == on_es
    assert [c.connectionId for c in store.iter_connections(session.sessionId)] == ["conn001"]
    assert store.get_session(session.sessionId, consistent=True).channelCounts["es"] == 0


def test_a_listed_entry_is_enough_to_switch_and_unregister_it(store, ddb):
    """The channel removal moves connections it listed, the sweep removes half registrations it listed: entries."""
    session = _session(store)
    registered = store.register_connection(_listener(session, 1, channel="es"))
    (listed,) = store.iter_connections(session.sessionId)
    moved = store.switch_channel(listed, None, head_seq=0)
    assert type(moved) is ConnectionEntry and moved.channel is None
    assert store.get_connection(registered.connectionId) == registered.model_copy(update={"channel": None})
    ddb.delete_item(TableName=TABLE_NAME, Key=codec.serialize_key(keys.connection_lookup_key(registered.connectionId)))
    (half,) = store.without_lookup(list(store.iter_connections(session.sessionId)))
    assert store.unregister(half) == half
    assert list(store.iter_connections(session.sessionId)) == []
    assert store.get_session(session.sessionId, consistent=True).listenerCount == 0


def test_the_ghost_probe_takes_the_oldest_listeners_that_connected_before_the_handshake_window(store, ddb):
    session = _session(store, partitions=1)
    old = [store.register_connection(_listener(session, n, connected_at=100 + n)) for n in range(3)]
    young = store.register_connection(_listener(session, 3, connected_at=10_000))
    assert [c.connectionId for c in store.oldest_listeners(session.sessionId, 2, registered_by=5_000)] == [
        old[0].connectionId,
        old[1].connectionId,
    ]
    assert young.connectionId not in {
        c.connectionId for c in store.oldest_listeners(session.sessionId, 10, registered_by=5_000)
    }
    # An entry whose lookup TTL already took was registered long ago: probed whatever the window.
    ddb.delete_item(TableName=TABLE_NAME, Key=codec.serialize_key(keys.connection_lookup_key(old[2].connectionId)))
    probed = store.oldest_listeners(session.sessionId, 10, registered_by=0)
    assert [c.connectionId for c in probed] == [old[2].connectionId]
