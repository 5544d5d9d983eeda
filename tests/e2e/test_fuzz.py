"""Fuzzing through the local stack: real HTTP and WebSocket clients, the local API Gateway stand-ins and
the real handlers.

The HTTP API is fuzzed by schemathesis with all its checks (tests/e2e/test_schemathesis_all_checks.py).

WebSocket frames: random JSON, text and bytes (tests/support/frames.py) over a real socket from a listener;
each is answered (no crash, no INTERNAL_ERROR, the connection stays open) and another listener of the
same session still gets the broadcast that follows.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tests.support.frames import ANSWERS, LISTENER_ERRORS, frames
from tests.support.local_stack import create_session, ws_url

pytestmark = pytest.mark.e2e

FUZZER = "fuzzer-1"


@pytest.fixture(scope="module")
def owned(stack):
    """(token, a function creating a session that token owns)."""
    token = stack.mint(FUZZER)
    return {"token": token, "fresh": lambda: create_session(stack, token, title="fuzzed")}


# -- WebSocket frames over a real socket -------------------------------------------------------------------


def _ws(stack, session_id: str, token: str | None = None):
    from websockets.sync.client import connect

    return connect(ws_url(stack, session_id, token), proxy=None, compression=None, open_timeout=15, max_queue=None)


def _next(ws, kind: str, timeout: float = 10.0) -> dict:
    import json
    import time

    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if message.get("type") == kind:
            return message


def test_random_frames_over_a_real_socket_are_answered_and_harm_no_one(stack, owned):
    import json

    session_id = owned["fresh"]()
    with (
        _ws(stack, session_id, owned["token"]) as speaker,
        _ws(stack, session_id) as fuzzer,
        _ws(stack, session_id) as bystander,
    ):

        @given(frame=frames)
        @settings(
            max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
        )
        def run(frame) -> None:
            fuzzer.send(frame)
            answer = json.loads(fuzzer.recv(timeout=10))
            assert answer.get("type") in ANSWERS, (frame, answer)
            if answer["type"] == "error":
                assert answer["code"] in LISTENER_ERRORS, (frame, answer)

        run()
        speaker.send(json.dumps({"action": "broadcast", "data": {"after": "fuzzing"}}))
        assert _next(speaker, "broadcastSent")["delivered"] == 2
        assert _next(bystander, "broadcast")["data"] == {"after": "fuzzing"}
        assert _next(fuzzer, "broadcast")["data"] == {"after": "fuzzing"}  # still connected, still served
