"""A keynote session's seats on seat shards (session_store/seat_ledger.py): exactly `maxListeners` admitted under a
concurrent join storm, counts exact after churn, the session item never written by a listener's join, an end
closing every shard, and the sweep's repair after a half registration."""

from __future__ import annotations

import random

import pytest

from session_schema import codec, keys, layout
from session_schema.errors import InvalidChannel, SessionEnded, SessionFull
from session_schema.models import Connection, Session
from session_schema.status import SessionStatus
from session_store.store import SessionStore

from tests.support.aws import TABLE_NAME
from tests.support.concurrency import together
from tests.support.stream_writes import change_status

SHARDS = 4
# The `channelCounts` entries these writes move: the declared channels and one never declared (tests/store/conftest.py).
MAP_KEYS = ("es", "fr", "de")


def keynote(store: SessionStore, max_listeners: int = 10, channels: tuple[str, ...] = ("es", "fr")) -> Session:
    session, _ = store.create_session(
        owner_id="speaker-1",
        title="Keynote",
        source_language="en",
        max_listeners=max_listeners,
        channels=channels,
        seat_shards=SHARDS,
    )
    return session


def listener(session: Session, n: int, channel: str | None = None) -> Connection:
    return Connection(
        connectionId=f"conn{n:04d}", sessionId=session.sessionId, role="listener", connectedAt=1, expiresAt=2,
        channel=channel,
    )  # fmt: skip


def join(store: SessionStore, connection: Connection) -> Connection | None:
    try:
        return store.register_connection(connection)
    except SessionFull:
        return None


def session_item(ddb, session: Session) -> dict:
    return ddb.get_item(TableName=TABLE_NAME, Key=codec.serialize_key(keys.session_key(session.sessionId)))["Item"]


def test_seat_shards_are_sized_from_max_listeners_and_their_capacities_add_up_to_it():
    assert layout.seat_shards_for(500) == 0  # a small session keeps its seats on its own item
    assert layout.seat_shards_for(100_000) == layout.MAX_SEAT_SHARDS
    assert sum(layout.capacities(100_001, 7)) == 100_001
    assert sorted(layout.try_order("abc", 5)) == list(range(5))


def test_a_join_storm_seats_exactly_max_listeners_and_never_writes_the_session_item(store, ddb):
    session = keynote(store, max_listeners=10)
    before = session_item(ddb, session)
    environments = [SessionStore(TABLE_NAME, client=ddb) for _ in range(24)]  # each learns the layout itself
    results = together(*(lambda n=n: join(environments[n], listener(session, n)) for n in range(24)))
    admitted = [c for c in results if c is not None]
    assert len(admitted) == 10
    assert {c.seat for c in admitted} <= set(range(SHARDS))
    assert session_item(ddb, session) == before  # the joins wrote only seat shards and connection items
    assert store.get_session(session.sessionId, consistent=True).listenerCount == 10
    assert [s.count for s in store.seat_shards(session)] == layout.capacities(10, SHARDS)
    with pytest.raises(SessionFull):
        store.register_connection(listener(session, 99))


def test_counts_per_channel_stay_exact_through_churn_and_switches(store):
    session = keynote(store, max_listeners=40)
    rng = random.Random(7)
    registered: dict[str, Connection] = {}
    for n in range(120):
        roll = rng.random()
        if registered and roll < 0.35:
            gone = registered.pop(rng.choice(sorted(registered)))
            assert store.unregister_connection(gone.connectionId) is not None
        elif registered and roll < 0.55:
            moving = registered[rng.choice(sorted(registered))]
            target = rng.choice([None, "es", "fr"])
            registered[moving.connectionId] = store.switch_channel(moving, target, head_seq=0)
        else:
            joined = join(store, listener(session, n, rng.choice([None, "es", "fr"])))
            if joined is not None:
                registered[joined.connectionId] = joined
    now = store.get_session(session.sessionId, consistent=True)
    assert now.listenerCount == len(registered)
    for channel in ("es", "fr"):
        assert now.channelCounts[channel] == sum(1 for c in registered.values() if c.channel == channel)
    assert {v.name: v.listenerCount for v in now.channelListeners} == {
        "es": now.channelCounts["es"], "fr": now.channelCounts["fr"],
    }  # fmt: skip


def test_an_undeclared_channel_is_refused_by_the_shard(store):
    session = keynote(store)
    with pytest.raises(InvalidChannel):
        store.register_connection(listener(session, 1, "de"))
    assert store.get_session(session.sessionId, consistent=True).listenerCount == 0


def test_an_end_closes_every_shard_so_no_join_is_seated_after_it(store):
    session = keynote(store)
    assert join(store, listener(session, 1)) is not None
    change_status(store, session.sessionId, SessionStatus.ENDED)
    assert all(s.closed and s.expiresAt for s in store.seat_shards(session))
    with pytest.raises(SessionEnded) as refused:
        store.register_connection(listener(session, 2))
    assert refused.value.actual_status == "ended"


def test_the_sweep_repairs_a_shard_whose_connection_item_expired_before_its_lookup(store, ddb):
    session = keynote(store)
    kept = [join(store, listener(session, n, "es")) for n in range(3)]
    half = kept[0]
    assert half is not None
    ddb.delete_item(TableName=TABLE_NAME, Key=codec.serialize_key(codec.connection_item_key(half)))  # TTL, as a crash
    assert store.get_session(session.sessionId, consistent=True).listenerCount == 3
    assert store.repair_listener_count(session.sessionId) == (3, 2)
    repaired = store.get_session(session.sessionId, consistent=True)
    assert (repaired.listenerCount, repaired.channelCounts["es"]) == (2, 2)
    assert store.repair_listener_count(session.sessionId) is None  # exact now: nothing to write
