"""A DynamoDB that accepts connections and never answers: both handlers answer in the contract's error shape
well inside API Gateway's 29 s (session_runtime/timeouts.py), not with the gateway's own body after it.

The handlers run as deployed (their own runtime and boto3 clients, built from the settings), with only the
DynamoDB endpoint pointed at the hung server; no moto. The bound asserted is the issue's 10 s; the budget
the client config promises is `WORST_CALL_SECONDS` per call, and the first call that fails ends a request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from session_runtime.timeouts import WORST_CALL_SECONDS

from tests.faults.hung import hung_server
from tests.http_events import AUDIENCE, ISSUER_URL, FakeLambdaContext, answer_of, http_event
from tests.ws_events import connect_event, message_event, new_connection_id

BOUND_SECONDS = 10.0  # the issue's bound; API Gateway's own is 29 s
SESSION_ID = "quiet-river-482"


@pytest.fixture
def hung_runtime(settings_env, monkeypatch, issuer) -> Iterator[Any]:
    from session_runtime.runtime import get_runtime
    from session_schema.auth import TokenVerifier, clear_jwks_cache

    from tests.fakes import FakeManagementApi

    with hung_server() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", url)
        get_runtime.cache_clear()
        clear_jwks_cache()
        rt = get_runtime()  # the deployed clients: AWS_CLIENT_CONFIG's timeouts and retry
        rt.management = rt.connections = FakeManagementApi()
        rt.verifier = TokenVerifier(ISSUER_URL, AUDIENCE, issuer.jwks_url, fetch_jwks=lambda _: issuer.jwks())
        yield rt
        get_runtime.cache_clear()


def timed(call: Any) -> tuple[Any, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_the_budget_per_call_leaves_room_inside_the_function_timeout() -> None:
    # The figure the timeouts module reasons with: one hung call, both attempts and the backoff, is far
    # inside the 25 s function timeout (and the issue's 10 s).
    assert WORST_CALL_SECONDS <= 5


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", f"/sessions/{SESSION_ID}", {}),
        ("PATCH", f"/sessions/{SESSION_ID}", {"user": "alice", "body": {"status": "paused"}}),
    ],
)
def test_http_answers_503_in_the_contract_shape_when_dynamodb_hangs(hung_runtime, method, path, kwargs) -> None:
    from http_session_handler.app import handler

    event = http_event(method, path, **kwargs)
    response, elapsed = timed(lambda: handler(event, FakeLambdaContext()))
    answer = answer_of(response)
    assert elapsed < BOUND_SECONDS, elapsed
    assert answer.status == 503, answer.raw_body
    assert answer.error["code"] == "SERVICE_UNAVAILABLE" and answer.error["requestId"]
    assert answer.headers.get("Retry-After") == "1"
    assert "127.0.0.1" not in answer.raw_body and "timeout" not in answer.raw_body.lower()  # nothing internal


def test_health_says_unavailable_in_time_when_dynamodb_hangs(hung_runtime) -> None:
    from http_session_handler.app import handler

    response, elapsed = timed(lambda: handler(http_event("GET", "/health"), FakeLambdaContext()))
    assert elapsed < BOUND_SECONDS and answer_of(response).status == 503


def test_websocket_connect_is_refused_503_in_the_contract_shape_when_dynamodb_hangs(hung_runtime) -> None:
    from connection_handler.app import handler

    event = connect_event(new_connection_id(), {"sessionId": SESSION_ID})
    response, elapsed = timed(lambda: handler(event, FakeLambdaContext(function_name="live-sessions-ws")))
    assert elapsed < BOUND_SECONDS, elapsed
    assert response["statusCode"] == 503
    error = json.loads(response["body"])["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE" and error["requestId"]


@pytest.mark.parametrize("frame", [{"action": "join", "id": "j1"}, {"action": "broadcast", "data": 1}])
def test_websocket_actions_answer_an_error_event_in_time_when_dynamodb_hangs(hung_runtime, frame) -> None:
    from connection_handler.app import handler

    event = message_event(new_connection_id(), frame)
    response, elapsed = timed(lambda: handler(event, FakeLambdaContext(function_name="live-sessions-ws")))
    assert elapsed < BOUND_SECONDS, elapsed
    assert response["statusCode"] == 200  # an action's answer is a frame, whatever it says
    answer = json.loads(response["body"])
    assert (answer["type"], answer["code"]) == ("error", "SERVICE_UNAVAILABLE")
    assert answer.get("id") == frame.get("id")


def test_an_unreachable_dynamodb_is_answered_just_as_fast(settings_env, monkeypatch) -> None:
    # Nothing listens: connect is refused at once; the one retry and its backoff are all it costs.
    from http_session_handler.app import handler
    from session_runtime.runtime import get_runtime

    with hung_server() as url:
        pass  # the port is free again: a connection there is refused
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", url)
    get_runtime.cache_clear()
    try:
        response, elapsed = timed(lambda: handler(http_event("GET", f"/sessions/{SESSION_ID}"), FakeLambdaContext()))
    finally:
        get_runtime.cache_clear()
    assert elapsed < BOUND_SECONDS and answer_of(response).status == 503
