"""Races on the WebSocket handler: many threads driving the real handlers at once (real API Gateway events)
against moto: joins against maxListeners, ending while listeners join, join/leave/gone interleavings, two
pauses from one speaker connection. The HTTP handler's races are in tests/http/test_races.py.

moto's DynamoDB is made atomic per request (local/dynamodb/atomic_moto.py, applied in tests/conftest.py), as
DynamoDB is, so what these tests find are races in our code: check-then-write gaps, counts that drift,
a transition applied twice. Each scenario starts its threads on a barrier, to overlap as much as
possible, and runs a few rounds.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest

from tests.support.concurrency import together
from tests.support.handlers import Handlers

OWNER = "owner-1"
ROUNDS = 3


def close_like_api_gateway(handlers: Handlers, processed: int = 0) -> int:
    """Every connection a handler closed (management.delete_connection) gets its `$disconnect`, as on API
    Gateway; repeated until no handler closes anything more. Returns how many closes were processed."""
    closed = handlers.management.closed
    while processed < len(closed):
        handlers.disconnect(closed[processed])
        processed += 1
    return processed


# -- (a) maxListeners under a stampede --------------------------------------------------------------------


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_forty_joins_on_a_session_for_ten_register_exactly_ten(handlers: Handlers, round_: int) -> None:
    session_id = handlers.create(OWNER, maxListeners=10)["sessionId"]
    # Anonymous and signed-in (not the owner) listeners: both take the listener transaction.
    joins = [(lambda i=i: handlers.connect(session_id, user=f"guest-{i}" if i % 4 == 0 else None)) for i in range(40)]
    results = together(*joins)

    accepted = [h.connection_id for h in results if h.status == 200]
    refused = [h for h in results if h.status != 200]
    assert len(accepted) == 10
    assert {(h.status, h.code) for h in refused} == {(429, "SESSION_FULL")}
    assert sorted(handlers.listeners(session_id)) == sorted(accepted)
    assert handlers.listener_count(session_id) == 10
    assert handlers.http("GET", f"/sessions/{session_id}").body["listenerCount"] == 10
    # A leave makes room for exactly one more.
    handlers.disconnect(accepted[0])
    again = together(*[lambda: handlers.connect(session_id) for _ in range(8)])
    assert sorted(h.status for h in again) == [200] + [429] * 7
    assert handlers.listener_count(session_id) == len(handlers.listeners(session_id)) == 10


# -- (b) ending a session while listeners join -------------------------------------------------------------


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_ending_while_listeners_join_leaves_no_listener_behind(handlers: Handlers, round_: int) -> None:
    session_id = handlers.create(OWNER, maxListeners=500)["sessionId"]
    speaker = handlers.connected(session_id, user=OWNER)
    early = [handlers.connected(session_id) for _ in range(4)]

    committed: dict[str, float] = {}
    store = handlers.store
    append = store.append

    def recording_append(*args: Any, **kwargs: Any) -> Any:
        result = append(*args, **kwargs)
        if not result.joinable:
            committed.setdefault("at", time.monotonic())  # the end's write has succeeded by now
        return result

    store.append = recording_append  # type: ignore[method-assign]

    joined_some = threading.Event()
    attempts: list[tuple[float, Any]] = []
    attempts_lock = threading.Lock()

    def end() -> int:
        joined_some.wait(30)  # end in the middle of the stampede, not before or after it
        return handlers.http("DELETE", f"/sessions/{session_id}", user=OWNER).status

    def joiner() -> None:
        for _ in range(5):
            started = time.monotonic()
            handshake = handlers.connect(session_id)
            with attempts_lock:
                attempts.append((started, handshake))
                if len(attempts) >= 12:
                    joined_some.set()

    try:
        results = together(end, *[joiner] * 10)
    finally:
        store.append = append  # type: ignore[method-assign]
    assert results[0] == 204
    joins = attempts
    assert {h.status for _, h in joins} <= {200, 410}
    assert all(h.code == "SESSION_ENDED" for _, h in joins if h.status == 410)
    assert len(joins) == 50
    late = [h for started, h in joins if started > committed["at"]]
    assert all(h.status == 410 for h in late), [h for h in late if h.status != 410]

    close_like_api_gateway(handlers)

    accepted = {h.connection_id for _, h in joins if h.status == 200} | set(early)
    assert accepted <= set(handlers.management.closed)  # every registered listener was closed ...
    assert handlers.listeners(session_id) == []  # ... and, once its $disconnect ran, is gone
    session = handlers.store.get_session(session_id, consistent=True)
    assert session.status.value == "ended" and session.listenerCount == 0
    assert speaker not in handlers.management.closed  # the speaker keeps its connection to see the end
    assert "sessionEnded" in handlers.management.types_sent_to(speaker)
    after = together(*[lambda: handlers.connect(session_id) for _ in range(5)])
    assert {(h.status, h.code) for h in after} == {(410, "SESSION_ENDED")}


# -- (c) random interleavings of join / leave / gone keep the count true -----------------------------------


@pytest.mark.parametrize("seed", range(ROUNDS))
def test_random_join_leave_gone_interleavings_keep_listener_count_true(handlers: Handlers, seed: int) -> None:
    session_id = handlers.create(OWNER, maxListeners=1000)["sessionId"]
    speaker = handlers.connected(session_id, user=OWNER)
    gone_lock = threading.Lock()
    gone: list[str] = []  # connections that vanished: API Gateway sends their $disconnect later

    def worker(index: int) -> list[str]:
        rng = random.Random(seed * 100 + index)
        mine: list[str] = []
        for _ in range(10):
            step = rng.choice(("join", "join", "leave", "gone", "broadcast", "twice"))
            if step == "join" or not mine:
                handshake = handlers.connect(session_id)
                assert handshake.status == 200, handshake.error
                mine.append(handshake.connection_id)
            elif step == "leave":
                handlers.disconnect(mine.pop(rng.randrange(len(mine))))
            elif step == "twice":  # a $disconnect delivered twice
                connection_id = mine.pop(rng.randrange(len(mine)))
                handlers.disconnect(connection_id)
                handlers.disconnect(connection_id)
            elif step == "gone":  # the client vanished; the next fan-out finds it gone and removes it
                connection_id = mine.pop(rng.randrange(len(mine)))
                handlers.management.gone.add(connection_id)
                with gone_lock:
                    gone.append(connection_id)
                answer = handlers.act(speaker, "broadcast", data={"from": index})
                assert answer["type"] == "broadcastSent", answer
            else:
                answer = handlers.act(speaker, "broadcast", data={"from": index})
                assert answer["type"] == "broadcastSent", answer
        return mine

    still_mine = together(*[lambda i=i: worker(i) for i in range(8)])
    registered = sorted(handlers.listeners(session_id))
    assert handlers.listener_count(session_id) == len(registered)
    assert registered == sorted(c for mine in still_mine for c in mine)

    for connection_id in gone:  # API Gateway's late $disconnect for the vanished ones: a no-op now
        handlers.disconnect(connection_id)
    assert handlers.listener_count(session_id) == len(handlers.listeners(session_id)) == len(registered)
    speaker_counts = [m["listenerCount"] for m in handlers.management.sent[speaker] if m["type"] == "listenerCount"]
    assert all(count >= 0 for count in speaker_counts)


# -- (d) two status changes from the same state: one wins --------------------------------------------------


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_concurrent_ws_pauses_one_wins_one_conflicts(handlers: Handlers, round_: int) -> None:
    session_id = handlers.create(OWNER)["sessionId"]
    speaker = handlers.connected(session_id, user=OWNER)
    listener = handlers.connected(session_id)

    # The same speaker connection sends two pauses at once (API Gateway may run them concurrently).
    answers = together(lambda: handlers.act(speaker, "pause"), lambda: handlers.act(speaker, "pause"))
    assert sorted(a["type"] for a in answers) == ["error", "sessionUpdated"]
    loser = next(a for a in answers if a["type"] == "error")
    assert (loser["code"], loser["from"], loser["to"]) == ("INVALID_TRANSITION", "paused", "paused")
    # The listener heard of the one change that happened, once.
    updates = [m for m in handlers.management.sent[listener] if m["type"] == "sessionUpdated"]
    assert [m["session"]["status"] for m in updates] == ["paused"]
