"""Attacks on the HTTP handler, with real API Gateway HTTP API v2 events, against moto: bad tokens, another
user's session, oversize bodies.

The events carry the token in `Authorization`, as API Gateway delivers it: no route has an authorizer
(infra/http_api.py), so the handler's own verification is the only check a token gets. The WebSocket
handler's attacks are in tests/ws/test_attacks.py; the same attacks through the local stack's gateways in
tests/e2e/test_attacks.py.
"""

from __future__ import annotations

import json

import pytest

from tests.support.attacks import OTHER, OWNER, PUBLIC_FIELDS, owned_sessions, snapshot
from tests.support.handlers import Handlers
from tests.support.tokens import bad_tokens


def test_bad_tokens_are_refused_by_the_http_handler_and_write_nothing(handlers: Handlers, issuer) -> None:
    session_id = handlers.create(OWNER, title="Mine")["sessionId"]
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


def test_user_b_cannot_write_to_user_a_session_over_http(handlers: Handlers) -> None:
    session_id = handlers.create(OWNER, title="A's talk")["sessionId"]
    handlers.listen(session_id, "listener-1")  # a write that got through would be pushed to it
    before = snapshot(handlers, session_id)
    for method, path, body in (
        ("PATCH", f"/sessions/{session_id}", {"status": "paused"}),
        ("PATCH", f"/sessions/{session_id}", {"status": "ended"}),
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
    assert dict(handlers.management.sent) == {} and handlers.management.closed == []  # nothing told or closed

    private = handlers.http("GET", f"/sessions/{session_id}", token=handlers.issuer.mint(OTHER))
    assert private.status == 200 and set(private.body) == PUBLIC_FIELDS  # the public view only
    artifacts = handlers.http("GET", f"/sessions/{session_id}/artifacts", user=OTHER)
    assert artifacts.status in (403, 404) and "items" not in (artifacts.body or {})
    mine = handlers.http("GET", "/sessions", user=OTHER)
    assert mine.status == 200 and mine.body["items"] == []  # A's session is not in B's list


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/sessions", {"title": "t" * 300_000}, "title"),
        ("PATCH", "/sessions/{sid}", {"title": "t" * 300_000}, "title"),
        ("POST", "/sessions/{sid}/messages", {"text": "m" * 300_000}, "text"),
    ],
)
def test_oversize_http_bodies_are_refused_and_write_nothing(handlers: Handlers, method, path, body, field) -> None:
    session_id = handlers.create(OWNER, title="kept")["sessionId"]
    before = snapshot(handlers, session_id)
    answer = handlers.http(method, path.format(sid=session_id), user=OWNER, body=body)
    assert answer.status == 400 and answer.error["code"] == "VALIDATION_ERROR", answer.raw_body[:300]
    assert field in json.dumps(answer.error)
    assert len(answer.raw_body) < 2000  # the refusal does not echo the payload back
    assert snapshot(handlers, session_id) == before
    assert owned_sessions(handlers, OWNER) == 1
