"""The connection lifecycle's rules through the real handler: a 410 for a connection inside its handshake never
unregisters it; the speaker hears its `listenerCount` at its own join; a registration retried after it committed
succeeds without a second seat; and no handler writes connections itself (session_runtime.connection_lifecycle)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from session_schema.models import Connection

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
HANDLER_MODULES = sorted(
    p for folder in ("http_session_handler", "connection_handler") for p in (LAMBDAS / folder).glob("*.py")
)


def test_a_410_for_a_listener_inside_its_handshake_leaves_it_registered(ws, live, management):
    arriving = ws.connect(live.session_id, connected_ago_ms=0).connection_id  # its $connect began just now
    settled = ws.connected(live.session_id)  # open past the handshake window
    management.gone.update({arriving, settled})  # API Gateway answers 410 to both (the first: not open yet)
    answer = ws.act(live.speaker, "broadcast", data={"n": 1})
    assert answer["type"] == "broadcastSent"
    assert ws.runtime.store.get_connection(arriving) is not None  # left to its $disconnect or the sweep
    assert ws.runtime.store.get_connection(settled) is None  # gone for real: unregistered, seat freed
    assert ws.listeners(live.session_id) == [arriving] and ws.listener_count(live.session_id) == 1


def test_a_410_for_a_speaker_inside_its_handshake_leaves_it_the_speaker(ws, management):
    session = ws.create_session(owner="owner-1")
    speaker = ws.connect(session.sessionId, user="owner-1", connected_ago_ms=0).connection_id
    management.gone.add(speaker)
    ws.connected(session.sessionId)  # a listener joins: the speaker is told the count, which gets a 410
    ws.act(ws.listeners(session.sessionId)[0], "join")
    assert ws.session(session.sessionId).speakerConnectionId == speaker
    management.gone.discard(speaker)  # its handshake completed: it acts as the speaker
    assert ws.act(speaker, "pause")["type"] == "sessionUpdated"


def test_the_speaker_is_told_its_listener_count_by_its_own_join(ws):
    """In `joined`, its first frame: a post during the join would arrive before the join's answer."""
    session = ws.create_session(owner="owner-1")
    ws.connected(session.sessionId)
    ws.connected(session.sessionId)
    speaker = ws.connected(session.sessionId, user="owner-1")
    joined = ws.act(speaker, "join")
    assert (joined["role"], joined["session"]["listenerCount"]) == ("speaker", 2)
    assert ws.received(speaker, "listenerCount") == []  # nothing posted inside its handshake or its join


def test_a_registration_retried_after_it_committed_succeeds_without_a_second_seat(ws):
    """DynamoDB honours botocore's ClientRequestToken; a retry that comes with another token finds the
    connection's own items there, which the store takes as its own earlier commit."""
    session = ws.create_session(owner="owner-1", max_listeners=1)
    listener = Connection(connectionId="L1", sessionId=session.sessionId, role="listener", connectedAt=1, expiresAt=2)
    ws.store.register_connection(listener)
    ws.store.register_connection(listener)  # the same registration again: the session is full by its own seat
    assert ws.listener_count(session.sessionId) == 1
    other = listener.model_copy(update={"connectionId": "L2"})
    with pytest.raises(Exception, match="full"):
        ws.store.register_connection(other)


CONNECTION_WRITES = [
    r"\.register_connection\(",
    r"\.unregister_connection\(",
    r"\.unregister\(",
    r"repair_listener_count",
]


@pytest.mark.parametrize("pattern", CONNECTION_WRITES)
def test_no_handler_module_writes_connections_itself(pattern: str) -> None:
    found = [f"{p.parent.name}/{p.name}" for p in HANDLER_MODULES if re.search(pattern, p.read_text(encoding="utf-8"))]
    assert found == [], f"{pattern} in {found}: call session_runtime.connection_lifecycle instead"


def test_a_throttled_join_is_retried_in_the_handler_and_admitted_once(ws, live, throttle):
    """A `$connect` whose registration DynamoDB throttles is tried again within the invocation: the client sees a
    slower handshake, not a 429, and the seat is counted once."""
    refused = throttle("transact_write_items", times=3)
    handshake = ws.connect(live.session_id)
    assert handshake.status == 200, handshake
    assert len(refused) == 3
    assert ws.listeners(live.session_id) == [handshake.connection_id]
    assert ws.listener_count(live.session_id) == 1


def test_a_throttled_disconnect_still_frees_the_seat_without_the_sweep(ws, live, throttle):
    """The handler retries a throttled unregistration itself, so the seat is free and the count exact at once,
    without the queue's redelivery after its visibility timeout (the sweep is only the backstop)."""
    listener = ws.connected(live.session_id)
    staying = ws.connected(live.session_id)
    refused = throttle("transact_write_items", times=3)
    assert ws.disconnect(listener) == {"batchItemFailures": []}
    assert len(refused) == 3
    assert ws.listeners(live.session_id) == [staying]
    assert ws.listener_count(live.session_id) == 1
    assert ws.received(live.speaker, "listenerCount")[-1]["listenerCount"] == 1  # and the speaker was told
