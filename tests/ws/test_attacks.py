"""Attacks on the WebSocket handler, with real API Gateway WebSocket events, against moto: bad tokens, another
user's session, a listener's speaker actions, oversize frames. The HTTP handler's are in
tests/http/test_attacks.py; the same attacks through the local stack's gateways in tests/e2e/test_attacks.py.
"""

from __future__ import annotations

import json

import pytest

from session_protocol.frames import ACTIONS

from tests.support.attacks import OTHER, OWNER, PUBLIC_FIELDS, snapshot
from tests.support.handlers import Handlers
from tests.support.tokens import bad_tokens

SPEAKER_FRAMES = {
    "broadcast": {"data": {"x": 1}},
    "sendMessage": {"text": "hijacked"},
    "pause": {},
    "resume": {},
    "mute": {},
    "unmute": {},
    "end": {},
    "kick": {"connectionId": "AAAAAAAAAAAAAAAA"},
}


def test_the_speaker_frames_cover_every_speaker_action() -> None:
    assert set(SPEAKER_FRAMES) == set(ACTIONS.speaker_only)


# -- bad tokens ------------------------------------------------------------------------------------------


def test_bad_tokens_are_refused_401_at_the_handshake_never_demoted_to_listeners(handlers: Handlers, issuer) -> None:
    """A token that is presented and fails verification (expired, forged, another issuer...) is refused 401
    UNAUTHORIZED, naming what was wrong; nothing is registered, so the session is as it was."""
    session_id = handlers.create(OWNER)["sessionId"]
    before = snapshot(handlers, session_id)
    for name, token in bad_tokens(issuer, OWNER).items():
        handshake = handlers.connect(session_id, token=token)
        assert (handshake.status, handshake.code) == (401, "UNAUTHORIZED"), name
        assert handlers.store.get_connection(handshake.connection_id) is None, name
    assert snapshot(handlers, session_id) == before
    assert handlers.store.get_session(session_id, consistent=True).listenerCount == 0
    assert handlers.connect(session_id).status == 200  # no token at all: an anonymous listener


# -- another user's session ------------------------------------------------------------------------------


@pytest.mark.parametrize("joined", [False, True], ids=["connected", "joined"])
@pytest.mark.parametrize("user", [None, OTHER], ids=["anonymous", "another-user"])
def test_speaker_actions_from_a_listener_are_forbidden_and_reach_no_one(handlers: Handlers, user, joined) -> None:
    """Anonymous or signed in as another user, joined or only connected: a listener's every speaker action is
    refused, naming the action; the session, the speaker's seat and every connection see nothing of it."""
    session_id = handlers.create(OWNER)["sessionId"]
    speaker = handlers.connected(session_id, user=OWNER)
    bystander = handlers.connected(session_id)
    before = snapshot(handlers, session_id)

    listener = handlers.connected(session_id, user=user)
    if joined:
        answer = handlers.act(listener, "join")
        assert answer["role"] == "listener" and set(answer["session"]) == PUBLIC_FIELDS
    for action, fields in SPEAKER_FRAMES.items():
        answer = handlers.act(listener, action, **fields)
        assert (answer["type"], answer["code"]) == ("error", "FORBIDDEN"), (action, answer)
        assert action in answer["message"]
    assert snapshot(handlers, session_id) == before  # status, title, muted, seq, messages
    session = handlers.store.get_session(session_id, consistent=True)
    assert session.speakerConnectionId == speaker  # the listener did not take the speaker seat
    assert handlers.received(listener) == [] and handlers.received(bystander) == []  # nothing was pushed


def test_a_frame_cannot_name_another_session_or_connection(handlers: Handlers) -> None:
    """Who acts is the connection API Gateway says sent the frame; fields in the frame cannot change it."""
    victim = handlers.create(OWNER)["sessionId"]
    victim_speaker = handlers.connected(victim, user=OWNER)
    mine = handlers.create(OTHER)["sessionId"]
    my_speaker = handlers.connected(mine, user=OTHER)
    before = snapshot(handlers, victim)
    for extra in ({"sessionId": victim}, {"connectionId": victim_speaker}):
        answer = handlers.act(my_speaker, "pause", **extra)
        assert (answer["type"], answer["code"]) == ("error", "VALIDATION_ERROR"), answer
    assert snapshot(handlers, victim) == before


# -- oversize input --------------------------------------------------------------------------------------


def test_a_broadcast_whose_event_would_exceed_a_frame_is_refused_and_costs_no_sequence_number(
    handlers: Handlers,
) -> None:
    """The bound is the `broadcast` event as listeners get it (32 KB with its type, seq, time and channel), not
    the data alone: 32 KB of data would make an event no listener can be sent."""
    from session_protocol.frames import FRAME_MAX_BYTES, broadcast_size

    session_id = handlers.create(OWNER)["sessionId"]
    speaker = handlers.connected(session_id, user=OWNER)
    listener = handlers.connected(session_id)
    fits = "x" * (FRAME_MAX_BYTES - broadcast_size(""))  # its event at its largest is exactly 32 KB
    assert broadcast_size(fits) == FRAME_MAX_BYTES
    for too_big in (fits + "x", "x" * (32 * 1024 - 2)):  # one byte over, and data of 32 KB as JSON
        answer = handlers.act(speaker, "broadcast", data=too_big)
        assert (answer["type"], answer["code"], answer["field"]) == ("error", "VALIDATION_ERROR", "data")
    assert handlers.management.types_sent_to(listener) == []
    sent = handlers.act(speaker, "broadcast", data=fits)
    assert sent["type"] == "broadcastSent" and sent["seq"] == 1
    received = handlers.received(listener, "broadcast")
    assert [m["data"] for m in received] == [fits]
    assert len(json.dumps(received[0], separators=(",", ":")).encode()) <= FRAME_MAX_BYTES


def test_an_oversize_ws_message_text_is_refused_and_stores_nothing(handlers: Handlers) -> None:
    session_id = handlers.create(OWNER)["sessionId"]
    speaker = handlers.connected(session_id, user=OWNER)
    before = snapshot(handlers, session_id)
    answer = handlers.act(speaker, "sendMessage", text="m" * 100_000)
    assert (answer["type"], answer["code"], answer["field"]) == ("error", "VALIDATION_ERROR", "text")
    assert snapshot(handlers, session_id) == before


def test_history_pages_fit_in_one_api_gateway_websocket_message_and_lose_nothing(handlers: Handlers) -> None:
    session_id = handlers.create(OWNER)["sessionId"]
    speaker = handlers.connected(session_id, user=OWNER)
    listener = handlers.connected(session_id)
    sent = []
    for i in range(50):  # 50 messages of 4,000 characters, 3 bytes each in UTF-8: ~600 KB in all
        answer = handlers.act(speaker, "sendMessage", text=f"{i:04d}" + "€" * 3996)
        assert answer["type"] == "message"
        sent.append(answer["messageId"])
    received, cursor, pages = [], None, 0
    while True:
        answer = handlers.act(listener, "history", **({"cursor": cursor} if cursor else {}))
        encoded = len(json.dumps(answer, separators=(",", ":"), ensure_ascii=False).encode())
        assert encoded <= 128 * 1024, f"history answer is {encoded} bytes"
        received += [m["messageId"] for m in answer["items"]]
        pages += 1
        cursor = answer["nextCursor"]
        if not cursor:
            break
    assert received == sent  # every message once, oldest first, across the size-bounded pages
    assert pages >= 5
