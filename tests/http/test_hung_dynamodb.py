"""A DynamoDB that accepts connections and never answers: the HTTP handler answers in the contract's error
shape well inside API Gateway's 29 s (session_runtime/timeouts.py), not with the gateway's own body after it.

The handler runs as deployed (its own runtime and boto3 clients, built from the settings), with only the
DynamoDB endpoint pointed at the hung server; no moto (the `hung_handlers` fixture, tests/support/hung.py).
The bound asserted is the issue's 10 s; the budget the client config promises is `WORST_CALL_SECONDS` per
call (tests/runtime/test_timeouts.py), and the first call that fails ends a request. The WebSocket
handler's answers are in tests/ws/test_hung_dynamodb.py.
"""

from __future__ import annotations

import pytest

from tests.support.handlers import Handlers
from tests.support.hung import BOUND_SECONDS, SESSION_ID, hung_server, timed


@pytest.fixture(autouse=True)
def _handler_imported() -> None:
    """The handler module is imported before any clock starts: a cold import is not what is timed."""
    import http_session_handler.app  # noqa: F401


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", f"/sessions/{SESSION_ID}", {}),
        ("PATCH", f"/sessions/{SESSION_ID}", {"user": "alice", "body": {"status": "paused"}}),
    ],
)
def test_http_answers_503_in_the_contract_shape_when_dynamodb_hangs(hung_handlers, method, path, kwargs) -> None:
    answer, elapsed = timed(lambda: hung_handlers.http(method, path, **kwargs))
    assert elapsed < BOUND_SECONDS, elapsed
    assert answer.status == 503, answer.raw_body
    assert answer.error["code"] == "SERVICE_UNAVAILABLE" and answer.error["requestId"]
    assert answer.headers.get("Retry-After") == "1"
    assert "127.0.0.1" not in answer.raw_body and "timeout" not in answer.raw_body.lower()  # nothing internal


def test_health_says_unavailable_in_time_when_dynamodb_hangs(hung_handlers) -> None:
    answer, elapsed = timed(lambda: hung_handlers.http("GET", "/health"))
    assert elapsed < BOUND_SECONDS and answer.status == 503


def test_an_unreachable_dynamodb_is_answered_just_as_fast(settings_env, monkeypatch) -> None:
    # Nothing listens: connect is refused at once; the one retry and its backoff are all it costs.
    from session_runtime.runtime import get_runtime

    with hung_server() as url:
        pass  # the port is free again: a connection there is refused
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", url)
    get_runtime.rebuild()
    try:
        # The runtime the handler builds for itself from the settings: the driver only sends the event.
        answer, elapsed = timed(lambda: Handlers(runtime=None, issuer=None).http("GET", f"/sessions/{SESSION_ID}"))
    finally:
        get_runtime.rebuild()
    assert elapsed < BOUND_SECONDS and answer.status == 503
