"""The store against moto: each operation, each refusal, cursors across pages, counts under interleaving."""

from __future__ import annotations

import random

import pytest

from session_schema import codec, keys
from session_schema.errors import (
    IdempotencyKeyReused,
    InvalidCursor,
    InvalidTransition,
    SessionEnded,
    SessionFull,
    SessionNotFound,
)
from session_schema.ids import is_session_id
from session_schema.models import Connection, Session
from session_schema.status import SessionStatus
from session_store.store import READ_LEGACY_CONNECTION_KEYS, NotOwner, SessionStore

from tests.support.aws import TABLE_NAME
from tests.support.stream_writes import append_message, broadcast, change_status, update_session


def make_session(store: SessionStore, owner: str = "user-a", max_listeners: int = 10, **kw) -> Session:
    session, created = store.create_session(
        owner_id=owner, title=kw.get("title", "Talk"), source_language="en", max_listeners=max_listeners
    )
    assert created
    return session


def connection(session: Session, conn_id: str, role: str = "listener", user: str | None = None) -> Connection:
    return Connection(
        connectionId=conn_id, sessionId=session.sessionId, role=role, userId=user, connectedAt=1, expiresAt=2
    )


def test_create_then_get_returns_the_same_session(store):
    session = make_session(store, title="Keynote")
    assert is_session_id(session.sessionId)
    assert store.get_session(session.sessionId, consistent=True) == session
    assert session.status is SessionStatus.ACTIVE and session.listenerCount == 0


def test_get_unknown_session_is_not_found(store):
    with pytest.raises(SessionNotFound):
        store.get_session("quiet-river-000")


def test_a_colliding_id_is_drawn_again_never_overwritten(store, monkeypatch):
    first = make_session(store)
    drawn = iter([first.sessionId, first.sessionId, "brave-otter-123"])
    monkeypatch.setattr("session_store.store.new_session_id", lambda: next(drawn))
    second = make_session(store, owner="user-b")
    assert second.sessionId == "brave-otter-123"
    assert store.get_session(first.sessionId).ownerId == "user-a"


def test_idempotent_create_returns_the_same_session_and_refuses_a_different_body(store):
    args = dict(owner_id="user-a", title="T", source_language="en", max_listeners=5, idempotency_key="key-1")
    first, created = store.create_session(**args)
    again, created_again = store.create_session(**args)
    assert created and not created_again and again == first
    with pytest.raises(IdempotencyKeyReused):
        store.create_session(**{**args, "title": "Other"})
    other_user, created_other = store.create_session(**{**args, "owner_id": "user-b"})
    assert created_other and other_user.sessionId != first.sessionId
    assert len(store.list_user_sessions("user-a", limit=10, cursor=None).items) == 1


def test_listing_is_newest_first_across_pages_with_opaque_cursors(store):
    clock = iter(range(1_000, 100_000, 1_000))
    store.clock = lambda: next(clock)
    made = [make_session(store) for _ in range(7)]
    make_session(store, owner="user-b")
    seen, cursor = [], None
    while True:
        page = store.list_user_sessions("user-a", limit=3, cursor=cursor)
        seen += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [s.sessionId for s in seen] == [s.sessionId for s in reversed(made)]


def test_a_tampered_or_foreign_cursor_is_a_clear_error(store):
    for _ in range(3):
        make_session(store)
    cursor = store.list_user_sessions("user-a", limit=1, cursor=None).next_cursor
    assert cursor
    for bad in ["garbage", cursor[:-3], cursor + "xx", "e30", "W10"]:
        with pytest.raises(InvalidCursor):
            store.list_user_sessions("user-a", limit=1, cursor=bad)
    with pytest.raises(InvalidCursor):  # user B cannot page through user A's sessions with A's cursor
        store.list_user_sessions("user-b", limit=1, cursor=cursor)


def test_status_moves_are_conditional_and_refusals_name_the_actual_status(store):
    session = make_session(store)
    before, after = change_status(store, session.sessionId, SessionStatus.PAUSED)
    assert (before.status, after.status) == (SessionStatus.ACTIVE, SessionStatus.PAUSED)
    with pytest.raises(InvalidTransition) as refused:
        change_status(store, session.sessionId, SessionStatus.PAUSED)
    assert (refused.value.current, refused.value.target) == ("paused", "paused")
    _, ended = change_status(store, session.sessionId, SessionStatus.ENDED)
    assert ended.endedAt is not None and ended.expiresAt is not None
    with pytest.raises(InvalidTransition) as refused:
        change_status(store, session.sessionId, SessionStatus.ACTIVE)
    assert (refused.value.current, refused.value.target) == ("ended", "active")
    with pytest.raises(SessionNotFound):
        change_status(store, "quiet-river-001", SessionStatus.ENDED)


def test_a_lost_race_is_rejudged_from_the_status_found(store):
    session = make_session(store)
    stale = store.get_session(session.sessionId)
    change_status(store, session.sessionId, SessionStatus.PAUSED)
    store.get_session = lambda *a, **k: stale  # type: ignore[method-assign]  # as if we read before the pause
    with pytest.raises(InvalidTransition) as refused:
        change_status(store, session.sessionId, SessionStatus.PAUSED)
    assert refused.value.current == "paused"


def test_listener_registration_counts_and_refuses_full_ended_missing(store):
    session = make_session(store, max_listeners=2)
    store.register_connection(connection(session, "c1"))
    store.register_connection(connection(session, "c2"))
    with pytest.raises(SessionFull):
        store.register_connection(connection(session, "c3"))
    assert store.get_session(session.sessionId).listenerCount == 2
    assert store.get_connection("c3") is None  # a refused join leaves nothing behind
    change_status(store, session.sessionId, SessionStatus.ENDED)
    with pytest.raises(SessionEnded) as ended:
        store.register_connection(connection(session, "c4"))
    assert ended.value.actual_status == "ended"
    with pytest.raises(SessionNotFound):
        store.register_connection(
            Connection(connectionId="c5", sessionId="nosuch-thing-111", role="listener", connectedAt=1, expiresAt=2)
        )
    with pytest.raises(SessionNotFound):  # and no session item was created by the attempt
        store.get_session("nosuch-thing-111", consistent=True)


def test_speaker_registration_requires_the_owner(store):
    session = make_session(store, owner="user-a")
    with pytest.raises(NotOwner):
        store.register_connection(connection(session, "s1", "speaker", "user-b"), owner_id="user-b")
    store.register_connection(connection(session, "s2", "speaker", "user-a"), owner_id="user-a")
    current = store.get_session(session.sessionId)
    assert current.speakerConnectionId == "s2" and current.listenerCount == 0
    assert current.speakerlessSince is None
    item = store.client.get_item(TableName=TABLE_NAME, Key=codec.serialize_key(keys.session_key(session.sessionId)))
    assert keys.GSI2PK not in item["Item"]


def test_unregister_is_repeatable_and_never_goes_below_zero(store):
    session = make_session(store)
    store.register_connection(connection(session, "c1"))
    assert store.unregister_connection("c1") is not None
    assert store.unregister_connection("c1") is None
    assert store.get_session(session.sessionId).listenerCount == 0
    assert list(store.iter_connections(session.sessionId)) == []


def test_a_leave_never_takes_the_count_below_zero_even_when_it_is_already_wrong(store, ddb):
    session = make_session(store)
    store.register_connection(connection(session, "c1"))
    ddb.update_item(  # a count that drifted (a lost decrement elsewhere): the guard, not luck, keeps it at 0
        TableName=TABLE_NAME,
        Key=codec.serialize_key(keys.session_key(session.sessionId)),
        UpdateExpression="SET listenerCount = :zero",
        ExpressionAttributeValues={":zero": {"N": "0"}},
    )
    assert store.unregister_connection("c1") is not None
    assert store.get_session(session.sessionId, consistent=True).listenerCount == 0
    assert store.get_connection("c1") is None and list(store.iter_connections(session.sessionId)) == []


def test_a_leave_after_the_session_item_is_gone_never_creates_one(store, ddb):
    session = make_session(store)
    store.register_connection(connection(session, "c1"))
    ddb.delete_item(TableName=TABLE_NAME, Key=codec.serialize_key(keys.session_key(session.sessionId)))
    assert store.unregister_connection("c1") is not None
    item = ddb.get_item(TableName=TABLE_NAME, Key=codec.serialize_key(keys.session_key(session.sessionId)))
    assert "Item" not in item
    assert store.get_connection("c1") is None


def test_speaker_leave_starts_the_speakerless_clock_and_the_sweep_sees_it(store):
    session = make_session(store, owner="user-a")
    store.register_connection(connection(session, "s1", "speaker", "user-a"), owner_id="user-a")
    assert [s.sessionId for s in store.iter_speakerless(cutoff_ms=10**13 - 1)] == []
    store.unregister_connection("s1")
    current = store.get_session(session.sessionId)
    assert current.speakerConnectionId is None and current.speakerlessSince is not None
    assert [s.sessionId for s in store.iter_speakerless(cutoff_ms=10**13 - 1)] == [session.sessionId]
    change_status(store, session.sessionId, SessionStatus.ENDED)
    assert list(store.iter_speakerless(cutoff_ms=10**13 - 1)) == []


def test_interleaved_register_unregister_keeps_count_equal_to_registered_listeners(store):
    rng = random.Random(7)
    session = make_session(store, max_listeners=5)
    live: set[str] = set()
    for step in range(120):
        conn_id = f"c{rng.randrange(12)}"
        action = rng.choice(["join", "leave", "leave-again"])
        if action == "join" and conn_id not in live:
            try:
                store.register_connection(connection(session, conn_id))
                live.add(conn_id)
            except SessionFull:
                assert len(live) == 5
        else:
            store.unregister_connection(conn_id)
            live.discard(conn_id)
        current = store.get_session(session.sessionId, consistent=True)
        assert current.listenerCount == len(live) == store.count_listeners(session.sessionId), step


def test_connections_are_listed_through_every_page(store):
    session = make_session(store, max_listeners=5000)
    other = make_session(store)
    for i in range(23):
        store.register_connection(connection(session, f"conn-{i:04d}"))
    store.register_connection(connection(other, "elsewhere"))
    calls = []
    store.client.meta.events.register("before-call.dynamodb.Query", lambda **kw: calls.append(1))
    listed = [c.connectionId for c in store.iter_connections(session.sessionId, page_size=5)]
    assert sorted(listed) == [f"conn-{i:04d}" for i in range(23)]
    # ceil(23 / 5) pages, each one Query, never a Scan; and the (empty) range older code wrote, in the deploy window
    assert len(calls) == 5 + int(READ_LEGACY_CONNECTION_KEYS)


def test_messages_append_list_since_and_page(store):
    clock = iter(range(10_000, 1_000_000, 1_000))
    store.clock = lambda: next(clock)
    session = make_session(store)
    sent = [append_message(store, session.sessionId, "user-a", f"m{i}")[0] for i in range(5)]
    page = store.list_messages(session.sessionId, limit=2, cursor=None)
    assert [m.text for m in page.items] == ["m0", "m1"]
    rest = store.list_messages(session.sessionId, limit=10, cursor=page.next_cursor)
    assert [m.text for m in rest.items] == ["m2", "m3", "m4"] and rest.next_cursor is None
    since = store.list_messages(session.sessionId, since=sent[2].createdAt, limit=10, cursor=None)
    assert [m.text for m in since.items] == ["m3", "m4"]
    change_status(store, session.sessionId, SessionStatus.ENDED)
    with pytest.raises(SessionEnded):
        append_message(store, session.sessionId, "user-a", "late")
    with pytest.raises(SessionNotFound):
        append_message(store, "quiet-river-999", "user-a", "nowhere")


def test_broadcast_seq_increases_and_stops_when_ended(store):
    session = make_session(store)
    assert [broadcast(store, session.sessionId).seq for _ in range(3)] == [1, 2, 3]
    change_status(store, session.sessionId, SessionStatus.ENDED)
    with pytest.raises(SessionEnded):
        broadcast(store, session.sessionId)


def test_mute_and_title_update_only_joinable_sessions(store):
    session = make_session(store)
    _, after = update_session(store, session.sessionId, muted=True, title="New")
    assert after.muted and after.title == "New"
    change_status(store, session.sessionId, SessionStatus.ENDED)
    with pytest.raises(SessionEnded):
        update_session(store, session.sessionId, muted=False)
