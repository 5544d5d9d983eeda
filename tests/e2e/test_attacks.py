"""The key attacks again, through the local stack: real HTTP and WebSocket clients, the local HTTP and
WebSocket gateways in front of the real handlers (as API Gateway is in front of Lambda). No route has an
authorizer, deployed or local: every refusal of a bad token is the handler's, in the contract's shape (the
handler-level attacks: tests/http/test_attacks.py, tests/ws/test_attacks.py)."""

from __future__ import annotations

import json
import time

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.support.contract import PUBLIC_FIELDS, REQUEST_ID
from tests.support.local_stack import create_session, http, ws_url
from tests.support.tokens import bad_tokens

pytestmark = pytest.mark.e2e

OWNER = "alice-local"
OTHER = "bob-local"
KB = 1024


def call(stack, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
    return http(stack, method, path, token, timeout=30, **kwargs)  # the 10 MB body takes a while


def create(stack, owner: str = OWNER, **body) -> str:
    return create_session(stack, stack.mint(owner), **body)


def open_ws(stack, session_id: str, token: str | None = None) -> ClientConnection:
    """A blocking client (these attacks send and read one frame at a time)."""
    return connect(ws_url(stack, session_id, token), proxy=None, compression=None, open_timeout=15, max_queue=None)


def ask(ws: ClientConnection, action: str, **fields) -> dict:
    """Send an action and return its answer (skipping pushes that are not answers)."""
    ws.send(json.dumps({"action": action, **fields}))
    deadline = time.monotonic() + 10
    while True:
        message = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if message.get("type") not in ("listenerCount", "broadcast", "sessionUpdated", "message"):
            return message


def session_state(stack, session_id: str) -> dict:
    return call(stack, "GET", f"/sessions/{session_id}", stack.mint(OWNER)).json()


def unauthorized(answer: requests.Response) -> bool:
    """The contract's 401, not a gateway authorizer's `{"message": "Unauthorized"}`: a JSON body that is
    exactly `{"error": {"code": "UNAUTHORIZED", "message", "requestId"}}`, the requestId the apigw-requestid
    header's (API Gateway's shape), and a Bearer challenge."""
    if answer.status_code != 401 or not answer.headers["content-type"].startswith("application/json"):
        return False
    body = answer.json()
    if set(body) != {"error"} or set(body["error"]) != {"code", "message", "requestId"}:
        return False
    error = body["error"]
    return (
        error["code"] == "UNAUTHORIZED"
        and bool(error["message"])
        and error["requestId"] == answer.headers["apigw-requestid"]
        and REQUEST_ID.fullmatch(error["requestId"]) is not None
        and answer.headers["www-authenticate"].startswith("Bearer")
    )


def test_bad_tokens_are_refused_by_the_handler_over_both_apis(stack) -> None:
    from local.cognito.issuer import LocalIssuer

    session_id = create(stack, title="Mine")
    before = session_state(stack, session_id)
    tokens: dict[str, str | None] = {
        **bad_tokens(stack.issuer, OWNER),
        "another issuer's": LocalIssuer("http://127.0.0.1:1/another-issuer", stack.issuer.audience).mint(OWNER),
    }
    request_ids = set()
    for name, token in {"no token": None, **tokens}.items():
        for method, path, body in (
            ("POST", "/sessions", {"title": "forged"}),
            ("GET", "/sessions", None),
            ("PATCH", f"/sessions/{session_id}", {"status": "paused"}),
            ("DELETE", f"/sessions/{session_id}", None),
            ("POST", f"/sessions/{session_id}/messages", {"text": "forged"}),
        ):
            answer = call(stack, method, path, token, json=body)
            assert unauthorized(answer), (name, method, path, answer.status_code, answer.text)
            request_ids.add(answer.json()["error"]["requestId"])
        if token is None:
            continue  # the public route and the WebSocket take no token as anonymous, by contract
        # An optional-auth route: a token that is present must be valid (401), never silently anonymous.
        assert unauthorized(call(stack, "GET", f"/sessions/{session_id}", token)), name
        # The WebSocket too: a presented token that fails is a 401 handshake, never a silent anonymous listener.
        with pytest.raises(InvalidStatus) as refused:
            open_ws(stack, session_id, token)
        assert refused.value.response.status_code == 401, name
        assert json.loads(refused.value.response.body)["error"]["code"] == "UNAUTHORIZED", name
    assert len(request_ids) == 5 * (1 + len(tokens))  # one request ID per request
    mine = call(stack, "GET", "/sessions", stack.mint(OWNER)).json()["items"]
    assert [s["sessionId"] for s in mine] == [session_id]  # nothing was created
    assert session_state(stack, session_id) == before


def test_user_b_cannot_act_on_user_a_session_over_either_api(stack) -> None:
    session_id = create(stack, title="A's talk")
    intruder = stack.mint(OTHER)
    for method, path, body in (
        ("PATCH", f"/sessions/{session_id}", {"status": "paused"}),
        ("DELETE", f"/sessions/{session_id}", None),
        ("POST", f"/sessions/{session_id}/messages", {"text": "not mine"}),
    ):
        answer = call(stack, method, path, intruder, json=body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (403, "FORBIDDEN"), (method, path)
    public = call(stack, "GET", f"/sessions/{session_id}", intruder)
    assert public.status_code == 200 and set(public.json()) == PUBLIC_FIELDS

    with open_ws(stack, session_id, stack.mint(OWNER)) as speaker, open_ws(stack, session_id, intruder) as ws:
        assert ask(ws, "join")["role"] == "listener"
        for action, fields in (("broadcast", {"data": 1}), ("sendMessage", {"text": "x"}), ("end", {})):
            answer = ask(ws, action, **fields)
            assert (answer["type"], answer["code"]) == ("error", "FORBIDDEN"), action
        assert ask(speaker, "ping")["type"] == "pong"
    state = session_state(stack, session_id)
    assert (state["status"], state["title"]) == ("active", "A's talk")
    assert call(stack, "GET", f"/sessions/{session_id}/messages").json()["items"] == []


def test_oversize_frames_and_messages(stack) -> None:
    session_id = create(stack, maxListeners=10)
    with open_ws(stack, session_id, stack.mint(OWNER)) as speaker, open_ws(stack, session_id) as listener:
        # A 40 KB message in two frames passes the gateway (frames <= 32 KB, message <= 128 KB); the
        # handler refuses broadcast data over 32 KB with an answer, and the connection stays open.
        frame = json.dumps({"action": "broadcast", "data": "x" * (40 * KB)})
        speaker.send([frame[: 20 * KB], frame[20 * KB :]])
        answer = json.loads(speaker.recv(timeout=10))
        assert (answer["type"], answer["code"], answer["field"]) == ("error", "VALIDATION_ERROR", "data")
        assert ask(speaker, "broadcast", data="fits")["delivered"] == 1
        assert json.loads(listener.recv(timeout=10))["data"] == "fits"

        # One frame over 32 KB: the gateway closes the connection with 1009 (message too big).
        with open_ws(stack, session_id) as big_frame:
            with pytest.raises(ConnectionClosed):
                big_frame.send(json.dumps({"action": "ping", "pad": "p" * (33 * KB)}))
                big_frame.recv(timeout=10)
            assert big_frame.close_code == 1009
        # A message over 128 KB in 32 KB frames: closed with 1009 as well.
        with open_ws(stack, session_id) as big_message:
            chunk = "y" * (30 * KB)
            with pytest.raises(ConnectionClosed):  # while still sending, or on the next read
                big_message.send(['{"action": "ping", "pad": "', *([chunk] * 5), '"}'])
                big_message.recv(timeout=10)
            assert big_message.close_code == 1009

        # No crash: the stack still serves everyone, and the closed ones left the count.
        assert ask(listener, "ping")["type"] == "pong"
        deadline = time.monotonic() + 10
        while session_state(stack, session_id)["listenerCount"] != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert session_state(stack, session_id)["listenerCount"] == 1


def test_oversize_http_bodies_are_refused_and_write_nothing(stack) -> None:
    token = stack.mint("bodies")
    too_big = call(stack, "POST", "/sessions", token, data=b"{" + b" " * (10 * KB * KB + 1) + b"}",
                   headers={"Content-Type": "application/json"})
    assert too_big.status_code == 413  # API Gateway's 10 MB payload limit, before any handler runs
    big_title = call(stack, "POST", "/sessions", token, json={"title": "t" * (500 * KB)})
    assert big_title.status_code == 400 and big_title.json()["error"]["code"] == "VALIDATION_ERROR"
    assert call(stack, "GET", "/sessions", token).json()["items"] == []
    session_id = create(stack, owner="bodies", title="kept")
    big_text = call(stack, "POST", f"/sessions/{session_id}/messages", token, json={"text": "m" * (500 * KB)})
    assert big_text.status_code == 400
    assert call(stack, "GET", f"/sessions/{session_id}/messages", token).json()["items"] == []
    assert call(stack, "GET", f"/sessions/{session_id}", token).json()["title"] == "kept"
