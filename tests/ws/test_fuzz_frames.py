"""Random and malformed WebSocket frames, as real MESSAGE events through the connection handler.

Frames are routed the way API Gateway routes them (`$request.body.action`, as the local gateway's
`select_route` in local/apigw/ws_api_events.py emulates it); binary frames arrive base64-encoded with
`isBase64Encoded`. Whatever the frame, the handler answers on the route response, never with INTERNAL_ERROR,
never raises, changes nothing it should not, and another listener of the same session still gets the next
broadcast.
"""

from __future__ import annotations

import base64
import json

from hypothesis import HealthCheck, given, settings

from local.apigw.ws_api_events import select_route
from tests.support.frames import ANSWERS, LISTENER_ERRORS, SPEAKER_ANSWERS, frames, text_frames
from tests.support.handlers import Handlers
from tests.support.ws_events import message_event

OWNER = "owner-1"

fixture_ok = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


def deliver(handlers: Handlers, connection_id: str, frame: str | bytes) -> dict:
    """What API Gateway would send the handler for this frame, and the answer it gets back."""
    route = select_route(frame)
    if isinstance(frame, bytes):
        event = message_event(connection_id, "", route_key=route)
        event.update(body=base64.b64encode(frame).decode(), isBase64Encoded=True)
    else:
        event = message_event(connection_id, frame, route_key=route)
    result = handlers.websocket(event)
    assert result["statusCode"] == 200, result
    return json.loads(result["body"])


@fixture_ok
@given(frame=frames)
def test_any_frame_from_a_listener_is_answered_and_harms_no_one(runtime, issuer, frame):
    handlers = Handlers(runtime, issuer)
    if not hasattr(runtime, "fuzz_session"):  # one session for every example (a fixture would be per test)
        session_id = handlers.create(OWNER, maxListeners=5)["sessionId"]
        runtime.fuzz_session = (
            session_id,
            handlers.connected(session_id, user=OWNER),
            handlers.connected(session_id),
            handlers.connected(session_id),
        )
    session_id, speaker, fuzzer, bystander = runtime.fuzz_session
    # This test is about how each frame is handled, not the read budget (10, then 2 a second): the examples
    # share one connection, and on a fast run their joins/histories would be answered RATE_LIMITED instead.
    runtime.action_budget.forget(fuzzer)

    answer = deliver(handlers, fuzzer, frame)
    assert answer["type"] in ANSWERS, answer
    if answer["type"] == "error":
        assert answer["code"] in LISTENER_ERRORS, answer
        assert answer["message"]

    session = handlers.store.get_session(session_id, consistent=True)
    assert session.status.value == "active" and not session.muted and session.listenerCount == 2
    sent = handlers.act(speaker, "broadcast", data={"after": repr(frame)[:50]})
    assert sent["type"] == "broadcastSent" and sent["delivered"] == 2
    assert handlers.management.sent[bystander][-1]["data"] == {"after": repr(frame)[:50]}


@fixture_ok
@given(frame=text_frames.filter(lambda f: select_route(f) not in ("pause", "resume", "mute", "unmute", "end")))
def test_any_frame_from_the_speaker_is_answered_without_an_internal_error(runtime, issuer, frame):
    handlers = Handlers(runtime, issuer)
    if not hasattr(runtime, "fuzz_session"):
        session_id = handlers.create(OWNER, maxListeners=5)["sessionId"]
        runtime.fuzz_session = (session_id, handlers.connected(session_id, user=OWNER), handlers.connected(session_id))
    session_id, speaker, bystander = runtime.fuzz_session

    answer = deliver(handlers, speaker, frame)
    assert answer.get("code") != "INTERNAL_ERROR", answer
    assert answer["type"] in SPEAKER_ANSWERS, answer
    sent = handlers.act(speaker, "broadcast", data="still here")
    assert sent["type"] == "broadcastSent" and sent["delivered"] == 1
    assert handlers.management.sent[bystander][-1]["data"] == "still here"
