"""Ghost connections (no `$disconnect` ever came) and seat counts that converge: the sweep asks API Gateway
about every connection registered past the grace, unregisters the gone ones, and repairs `listenerCount`
to the number registered (moto; the captured management API answers 410 for the ghosts)."""

from __future__ import annotations

from contextlib import contextmanager

from session_schema import codec, keys


@contextmanager
def _later(ws, seconds: float):
    """The sweep runs `seconds` from now (so what was registered now is past the ghost grace)."""
    store = ws.runtime.store
    real = store.clock
    store.clock = lambda: real() + int(seconds * 1000)
    try:
        yield
    finally:
        store.clock = real


def _past_grace(ws):
    return _later(ws, ws.runtime.settings.ghost_grace_seconds + 1)


def test_ghost_listeners_are_unregistered_and_their_seats_freed_and_the_speaker_told(ws, live, management):
    alive = ws.connected(live.session_id)
    ghosts = [ws.connected(live.session_id) for _ in range(3)]
    management.gone.update(ghosts)
    assert ws.session(live.session_id).listenerCount == 4
    with _past_grace(ws):
        summary = ws.sweep()
    assert (summary["ghosts"], summary["unknown"]) == (3, 0)
    assert summary["asked"] == 5  # the speaker, the alive listener, the ghosts
    assert ws.session(live.session_id).listenerCount == 1
    assert {c.connectionId for c in ws.runtime.store.iter_connections(live.session_id)} == {live.speaker, alive}
    assert ws.received(live.speaker, "listenerCount")[-1]["listenerCount"] == 1
    assert summary["repaired"] == {}  # each leave moved the count: nothing left to repair
    # Nothing changes on a second sweep.
    with _past_grace(ws):
        again = ws.sweep()
    assert (again["ghosts"], ws.session(live.session_id).listenerCount) == (0, 1)


def test_connections_inside_the_grace_are_not_asked_about(ws, live, management):
    fresh = ws.connect(live.session_id, connected_ago_ms=0).connection_id
    management.gone.add(fresh)  # even if API Gateway already says gone: a $connect may still be in flight
    asked_before = list(management.calls)
    summary = ws.sweep()
    assert summary["asked"] == 1 and summary["ghosts"] == 0  # the speaker only, open past the grace
    assert fresh in {c.connectionId for c in ws.runtime.store.iter_connections(live.session_id)}
    assert management.calls == asked_before


def test_a_join_to_a_full_session_frees_the_seats_of_ghosts_and_gets_one_at_once(ws, management):
    session = ws.create_session(owner="owner-1", max_listeners=2)
    speaker = ws.connected(session.sessionId, user="owner-1")
    ghosts = [ws.connected(session.sessionId), ws.connected(session.sessionId)]
    management.gone.update(ghosts)  # the stack crashed: API Gateway has none of them, the table still does
    newcomer = ws.connect(session.sessionId)
    assert newcomer.status == 200  # no sweep needed: the join asked API Gateway about the oldest listeners
    assert ws.session(session.sessionId).listenerCount == 1
    assert ws.listeners(session.sessionId) == [newcomer.connection_id]
    registered = {c.connectionId for c in ws.runtime.store.iter_connections(session.sessionId)}
    assert registered == {speaker, newcomer.connection_id}
    assert ws.received(speaker, "listenerCount")[-1]["listenerCount"] == 0  # each freed seat told as a leave
    assert ws.connect(session.sessionId).status == 200  # both ghosts' seats were freed
    assert ws.connect(session.sessionId).code == "SESSION_FULL"  # and the count is exact again


def test_a_full_session_of_live_listeners_or_of_listeners_inside_their_handshake_stays_full(ws, management):
    """API Gateway answers 410 for a connection whose $connect has not returned yet: a listener that registered
    within the handshake window is never probed, so a join cannot take the seat of one that is arriving."""
    session = ws.create_session(owner="owner-1", max_listeners=2)
    alive = ws.connected(session.sessionId)
    arriving = ws.connect(session.sessionId, connected_ago_ms=0).connection_id
    management.gone.add(arriving)
    asked: list[str] = []
    real = management.get_connection

    def recording(**call):
        asked.append(call["ConnectionId"])
        return real(**call)

    management.get_connection = recording
    assert ws.connect(session.sessionId).code == "SESSION_FULL"
    assert asked == [alive]  # the live one asked (and kept); the arriving one not asked at all
    assert set(ws.listeners(session.sessionId)) == {alive, arriving}
    assert ws.session(session.sessionId).listenerCount == 2


def test_a_ghost_speaker_makes_the_session_speakerless_and_the_listeners_are_told(ws, live, management):
    listener = ws.connected(live.session_id)
    management.gone.add(live.speaker)
    with _past_grace(ws):
        summary = ws.sweep()
    assert summary["ghosts"] == 1
    session = ws.session(live.session_id)
    assert session.speakerConnectionId is None and session.speakerlessSince is not None
    assert ws.received(listener, "speakerDisconnected")


def test_a_count_no_leave_decremented_is_repaired_to_the_number_registered(ws, live, ddb):
    listener = ws.connected(live.session_id)
    # Records TTL-deleted (or lost) without their leave: two seats counted, one listener registered.
    ghost = ws.connected(live.session_id)
    for key in (keys.connection_key(live.session_id, ghost, None, 0), keys.connection_lookup_key(ghost)):
        ddb.delete_item(TableName=ws.runtime.settings.table_name, Key=codec.serialize_key(key))
    assert ws.session(live.session_id).listenerCount == 2
    with _past_grace(ws):
        summary = ws.sweep()
    assert summary["repaired"] == {live.session_id: (2, 1)}
    assert ws.session(live.session_id).listenerCount == 1
    assert ws.received(live.speaker, "listenerCount")[-1]["listenerCount"] == 1
    assert listener in {c.connectionId for c in ws.runtime.store.iter_connections(live.session_id)}


def test_a_speakerless_session_with_no_connection_left_is_repaired_too(ws, ddb):
    session = ws.create_session(owner="owner-1")
    ghost = ws.connected(session.sessionId)
    for key in (keys.connection_key(session.sessionId, ghost, None, 0), keys.connection_lookup_key(ghost)):
        ddb.delete_item(TableName=ws.runtime.settings.table_name, Key=codec.serialize_key(key))
    summary = ws.sweep()
    assert summary["repaired"] == {session.sessionId: (1, 0)}
    assert ws.session(session.sessionId).listenerCount == 0


def test_a_question_that_fails_leaves_the_connection_for_the_next_sweep(ws, live, management, monkeypatch):
    listener = ws.connected(live.session_id)

    def broken(**_):
        raise TimeoutError("no answer")

    monkeypatch.setattr(management, "get_connection", broken)
    with _past_grace(ws):
        summary = ws.sweep()
    assert summary["unknown"] == 2 and summary["ghosts"] == 0
    assert ws.session(live.session_id).listenerCount == 1
    assert listener in {c.connectionId for c in ws.runtime.store.iter_connections(live.session_id)}


def test_a_connection_item_without_its_lookup_is_removed_by_one_sweep_and_its_seat_freed(ws, live, ddb, management):
    """DynamoDB's TTL deleted the lookup item first (or older code left the half): the fan-out could not find it
    by ID, `$disconnect` cannot either, and the count kept its seat."""
    listener = ws.connected(live.session_id)
    half = ws.connected(live.session_id)
    ddb.delete_item(TableName=ws.runtime.settings.table_name, Key=codec.serialize_key(keys.connection_lookup_key(half)))
    summary = ws.sweep()  # no grace needed: a connection item without its lookup is never a registration in flight
    assert summary["halfRegistered"] == 1
    assert set(ws.listeners(live.session_id)) == {listener}
    assert ws.session(live.session_id).listenerCount == 1
    assert ws.received(live.speaker, "listenerCount")[-1]["listenerCount"] == 1


def test_a_lookup_without_its_connection_item_is_removed_by_one_sweep(ws, live, ddb, management):
    half = ws.connected(live.session_id)
    ddb.delete_item(
        TableName=ws.runtime.settings.table_name,
        Key=codec.serialize_key(keys.connection_key(live.session_id, half, None, 0)),
    )
    management.gone.add(half)
    with _past_grace(ws):
        summary = ws.sweep()
    assert ws.runtime.store.get_connection(half) is None
    assert ws.session(live.session_id).listenerCount == 0  # the count repaired to the items left
    assert summary["ghosts"] == 1


def test_a_live_socket_registered_by_its_lookup_only_is_closed_so_its_client_reconnects(ws, live, ddb, management):
    deaf = ws.connected(live.session_id)
    ddb.delete_item(
        TableName=ws.runtime.settings.table_name,
        Key=codec.serialize_key(keys.connection_key(live.session_id, deaf, None, 0)),
    )
    with _past_grace(ws):
        summary = ws.sweep()
    assert summary["halfRegistered"] == 1
    assert deaf in management.closed
    assert ws.runtime.store.get_connection(deaf) is None


def test_a_session_the_sweep_finds_without_connections_leaves_its_list_until_the_next_registration(ws, live):
    store = ws.runtime.store
    assert live.session_id in set(store.iter_sessions_with_connections())
    ws.disconnect(live.speaker)
    ws.sweep()
    assert live.session_id not in set(store.iter_sessions_with_connections())
    ws.connected(live.session_id)
    assert live.session_id in set(store.iter_sessions_with_connections())
