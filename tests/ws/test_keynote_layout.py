"""A keynote session through the real handlers: its seats on seat shards and its connections over several partitions.
Exactly `maxListeners` are admitted, every listener in every partition gets each event of the session and of its
channel, counts stay exact through leaves and the sweep, and an end reaches everyone."""

from __future__ import annotations

import json

import pytest

from session_schema.errors import FULL_RETRY_AFTER_MIN_SECONDS, full_retry_after_seconds
from session_schema.models import Session

from tests.support.ws_events import connect_event, new_connection_id

CHANNELS = ("es", "fr")
MAX_LISTENERS = 12


@pytest.fixture
def keynote(ws) -> tuple[Session, str]:
    session, _ = ws.store.create_session(
        owner_id="owner-1",
        title="Keynote",
        source_language="en",
        max_listeners=MAX_LISTENERS,
        channels=CHANNELS,
        seat_shards=3,
        connection_partitions=4,
    )
    return session, ws.connected(session.sessionId, user="owner-1")


def join_all(ws, session: Session, count: int) -> tuple[dict[str, str | None], list[str]]:
    """`count` handshakes spread over no channel and each channel: the admitted (ID: channel), the refusals' codes."""
    admitted: dict[str, str | None] = {}
    refused: list[str] = []
    for n in range(count):
        channel = (None, *CHANNELS)[n % 3]
        handshake = ws.connect(session.sessionId, **({"channel": channel} if channel else {}))
        if handshake.status == 200:
            admitted[handshake.connection_id] = channel
        else:
            refused.append(str(handshake.code))
    return admitted, refused


def test_every_listener_in_every_partition_gets_each_event_and_exactly_max_listeners_are_seated(ws, keynote):
    session, speaker = keynote
    admitted, refused = join_all(ws, session, MAX_LISTENERS + 3)
    assert len(admitted) == MAX_LISTENERS and refused == ["SESSION_FULL"] * 3
    placed = {c.partition for c in ws.store.iter_connections(session.sessionId) if c.role == "listener"}
    assert len(placed) > 1  # the listeners really are spread over several partitions

    everyone = ws.act(speaker, "broadcast", data="all")
    spanish = ws.act(speaker, "broadcast", data="hola", channel="es")
    assert everyone["delivered"] == MAX_LISTENERS
    for connection_id, channel in admitted.items():
        got = [(m.get("channel"), m["data"]) for m in ws.received(connection_id, "broadcast")]
        assert got == [(None, "all"), *([("es", "hola")] if channel == "es" else [])]
    assert spanish["delivered"] == sum(1 for c in admitted.values() if c == "es")

    view = ws.session(session.sessionId)
    assert view.listenerCount == MAX_LISTENERS
    assert view.channelCounts == {name: sum(1 for c in admitted.values() if c == name) for name in CHANNELS}


def test_counts_stay_exact_through_leaves_and_the_sweep_and_an_end_reaches_everyone(ws, keynote):
    session, speaker = keynote
    admitted, _ = join_all(ws, session, 9)
    leaving = list(admitted)[:4]
    for connection_id in leaving:
        ws.disconnect(connection_id)
    staying = [c for c in admitted if c not in leaving]
    assert ws.session(session.sessionId).listenerCount == len(staying)
    ws.sweep()
    assert ws.session(session.sessionId).listenerCount == len(staying)
    again, _ = join_all(ws, session, MAX_LISTENERS)  # the freed seats are taken again, never more
    assert len(again) == MAX_LISTENERS - len(staying)

    ws.act(speaker, "end")
    for connection_id in [*staying, *again]:
        assert [m["type"] for m in ws.received(connection_id) if m["type"] == "sessionEnded"] == ["sessionEnded"]
    assert ws.connect(session.sessionId).code == "SESSION_ENDED"


def test_a_full_session_refusal_says_when_to_retry_sized_to_the_session(ws, keynote):
    session, _ = keynote
    join_all(ws, session, MAX_LISTENERS)
    refused = ws.websocket(connect_event(new_connection_id(), {"sessionId": session.sessionId}, 60_000))
    assert refused["statusCode"] == 429 and json.loads(refused["body"])["error"]["code"] == "SESSION_FULL"
    assert refused["headers"]["Retry-After"] == str(FULL_RETRY_AFTER_MIN_SECONDS)  # a small session: the floor
    # A keynote's refused listeners are spread over the time API Gateway takes to admit that many, up to minutes.
    assert full_retry_after_seconds(100_000) == 200 and full_retry_after_seconds(10**6) == 300
