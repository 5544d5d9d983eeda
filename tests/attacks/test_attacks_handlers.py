"""Attacks on both handlers, with real API Gateway events (HTTP API v2 and WebSocket), against moto.

The HTTP events here carry the token in `Authorization`, as API Gateway delivers it: no route has an
authorizer (infra/http_api.py), so the handler's own verification is the only check a token gets. The
same attacks through the local stack's gateway are in test_attacks_local_stack.py.
"""

from __future__ import annotations

import json

import pytest

from session_schema.routes import SPEAKER_ACTIONS

from tests.attacks.tokens import bad_tokens
from tests.handlers import Handlers

OWNER = "alice"
OTHER = "bob"
PUBLIC_FIELDS = {"sessionId", "title", "status", "listenerCount", "muted", "createdAt", "maxListeners", "seq", "epoch"}
SPEAKER_FRAMES = {
    "broadcast": {"data": {"x": 1}},
    "sendMessage": {"text": "hijacked"},
    "pause": {},
    "resume": {},
    "mute": {},
    "unmute": {},
    "end": {},
}


def owned_sessions(handlers: Handlers, user: str) -> int:
    return len(handlers.store.list_user_sessions(user, limit=100, cursor=None).items)


def snapshot(handlers: Handlers, session_id: str) -> tuple:
    session = handlers.store.get_session(session_id, consistent=True)
    messages = handlers.store.list_messages(session_id, limit=100, cursor=None).items
    return session.status, session.title, session.muted, session.seq, len(messages)


def test_the_speaker_frames_cover_every_speaker_action() -> None:
    assert set(SPEAKER_FRAMES) == set(SPEAKER_ACTIONS)


# -- bad tokens ------------------------------------------------------------------------------------------


def test_bad_tokens_are_refused_by_the_http_handler_and_write_nothing(handlers: Handlers, issuer) -> None:
    session_id = handlers.create(OWNER, title="Mine")
    before = snapshot(handlers, session_id)
    for name, token in bad_tokens(issuer, OWNER).items():
        created = handlers.http("POST", "/sessions", token=token, body={"title": "forged"})
        assert (created.status, created.error["code"]) == (401, "UNAUTHORIZED"), name
        assert created.error["requestId"], name
        for method, path, body in (
            ("PATCH", f"/sessions/{session_id}", {"status": "paused"}),
            ("DELETE", f"/sessions/{session_id}", None),
            ("POST", f"/sessions/{session_id}/messages", {"text": "forged"}),
            ("GET", "/sessions", None),
        ):
            answer = handlers.http(method, path, token=token, body=body)
            assert answer.status == 401, (name, method, path, answer.raw_body)
        # An optional-auth route: a token that is present must be valid (401), never silently anonymous.
        assert handlers.http("GET", f"/sessions/{session_id}", token=token).status == 401, name
    assert owned_sessions(handlers, OWNER) == 1
    assert snapshot(handlers, session_id) == before


def test_bad_tokens_connect_as_anonymous_listeners_never_as_the_speaker(handlers: Handlers, issuer) -> None:
    session_id = handlers.create(OWNER)
    before = snapshot(handlers, session_id)
    for name, token in bad_tokens(issuer, OWNER).items():
        handshake = handlers.connect(session_id, token=token)
        assert handshake.status == 200, name
        joined = handlers.act(handshake.connection_id, "join")
        assert joined["role"] == "listener", name
        assert handlers.store.get_connection(handshake.connection_id).userId is None, name
        for action, fields in SPEAKER_FRAMES.items():
            answer = handlers.act(handshake.connection_id, action, **fields)
            assert (answer["type"], answer["code"]) == ("error", "FORBIDDEN"), (name, action, answer)
    assert snapshot(handlers, session_id) == before
    assert handlers.store.get_session(session_id, consistent=True).speakerConnectionId is None


# -- another user's session ------------------------------------------------------------------------------


def test_user_b_cannot_write_to_user_a_session_over_http(handlers: Handlers) -> None:
    session_id = handlers.create(OWNER, title="A's talk")
    before = snapshot(handlers, session_id)
    for method, path, body in (
        ("PATCH", f"/sessions/{session_id}", {"status": "paused"}),
        ("PATCH", f"/sessions/{session_id}", {"title": "pwned"}),
        ("PATCH", f"/sessions/{session_id}", {"muted": True}),
        ("DELETE", f"/sessions/{session_id}", None),
        ("POST", f"/sessions/{session_id}/messages", {"text": "not mine"}),
        (
            "POST",
            f"/sessions/{session_id}/artifacts",
            {"kind": "image", "contentType": "image/png", "fileName": "x.png"},
        ),
    ):
        for how in ({"user": OTHER}, {"token": handlers.issuer.mint(OTHER, token_use="access")}):  # ID, access
            answer = handlers.http(method, path, body=body, **how)
            assert (answer.status, answer.error["code"]) == (403, "FORBIDDEN"), (method, path, how, answer.raw_body)
    assert snapshot(handlers, session_id) == before

    private = handlers.http("GET", f"/sessions/{session_id}", token=handlers.issuer.mint(OTHER))
    assert private.status == 200 and set(private.body) == PUBLIC_FIELDS  # the public view only
    artifacts = handlers.http("GET", f"/sessions/{session_id}/artifacts", user=OTHER)
    assert artifacts.status in (403, 404) and "items" not in (artifacts.body or {})
    mine = handlers.http("GET", "/sessions", user=OTHER)
    assert mine.status == 200 and mine.body["items"] == []  # A's session is not in B's list


def test_user_b_token_on_a_session_is_a_listener_and_speaker_actions_are_forbidden(handlers: Handlers) -> None:
    session_id = handlers.create(OWNER)
    speaker = handlers.connected(session_id, user=OWNER)
    bystander = handlers.connected(session_id)
    before = snapshot(handlers, session_id)

    intruder = handlers.connected(session_id, user=OTHER)
    joined = handlers.act(intruder, "join")
    assert joined["role"] == "listener" and set(joined["session"]) == PUBLIC_FIELDS
    for action, fields in SPEAKER_FRAMES.items():
        answer = handlers.act(intruder, action, **fields)
        assert (answer["type"], answer["code"]) == ("error", "FORBIDDEN"), (action, answer)
    assert snapshot(handlers, session_id) == before
    session = handlers.store.get_session(session_id, consistent=True)
    assert session.speakerConnectionId == speaker  # B did not take the speaker seat
    assert handlers.management.types_sent_to(bystander) == []  # nothing reached the others


def test_a_listener_sending_speaker_actions_is_forbidden(handlers: Handlers) -> None:
    session_id = handlers.create(OWNER)
    handlers.connected(session_id, user=OWNER)
    listener = handlers.connected(session_id)
    before = snapshot(handlers, session_id)
    for action, fields in SPEAKER_FRAMES.items():
        answer = handlers.act(listener, action, **fields)
        assert (answer["type"], answer["code"]) == ("error", "FORBIDDEN"), (action, answer)
        assert action in answer["message"]
    assert snapshot(handlers, session_id) == before


def test_a_frame_cannot_name_another_session_or_connection(handlers: Handlers) -> None:
    """Who acts is the connection API Gateway says sent the frame; fields in the frame cannot change it."""
    victim = handlers.create(OWNER)
    victim_speaker = handlers.connected(victim, user=OWNER)
    mine = handlers.create(OTHER)
    my_speaker = handlers.connected(mine, user=OTHER)
    before = snapshot(handlers, victim)
    for extra in ({"sessionId": victim}, {"connectionId": victim_speaker}):
        answer = handlers.act(my_speaker, "pause", **extra)
        assert (answer["type"], answer["code"]) == ("error", "VALIDATION_ERROR"), answer
    assert snapshot(handlers, victim) == before


# -- oversize input --------------------------------------------------------------------------------------


def test_broadcast_data_over_32_kb_is_refused_and_costs_no_sequence_number(handlers: Handlers) -> None:
    session_id = handlers.create(OWNER)
    speaker = handlers.connected(session_id, user=OWNER)
    listener = handlers.connected(session_id)
    answer = handlers.act(speaker, "broadcast", data="x" * (32 * 1024 + 1))
    assert (answer["type"], answer["code"], answer["field"]) == ("error", "VALIDATION_ERROR", "data")
    assert handlers.management.types_sent_to(listener) == []
    fits = handlers.act(speaker, "broadcast", data="x" * (32 * 1024 - 2))  # 32 KB once JSON-quoted
    assert fits["type"] == "broadcastSent" and fits["seq"] == 1


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/sessions", {"title": "t" * 300_000}, "title"),
        ("PATCH", "/sessions/{sid}", {"title": "t" * 300_000}, "title"),
        ("POST", "/sessions/{sid}/messages", {"text": "m" * 300_000}, "text"),
    ],
)
def test_oversize_http_bodies_are_refused_and_write_nothing(handlers: Handlers, method, path, body, field) -> None:
    session_id = handlers.create(OWNER, title="kept")
    before = snapshot(handlers, session_id)
    answer = handlers.http(method, path.format(sid=session_id), user=OWNER, body=body)
    assert answer.status == 400 and answer.error["code"] == "VALIDATION_ERROR", answer.raw_body[:300]
    assert field in json.dumps(answer.error)
    assert len(answer.raw_body) < 2000  # the refusal does not echo the payload back
    assert snapshot(handlers, session_id) == before
    assert owned_sessions(handlers, OWNER) == 1


def test_an_oversize_ws_message_text_is_refused_and_stores_nothing(handlers: Handlers) -> None:
    session_id = handlers.create(OWNER)
    speaker = handlers.connected(session_id, user=OWNER)
    before = snapshot(handlers, session_id)
    answer = handlers.act(speaker, "sendMessage", text="m" * 100_000)
    assert (answer["type"], answer["code"], answer["field"]) == ("error", "VALIDATION_ERROR", "text")
    assert snapshot(handlers, session_id) == before


def test_history_pages_fit_in_one_api_gateway_websocket_message_and_lose_nothing(handlers: Handlers) -> None:
    session_id = handlers.create(OWNER)
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
