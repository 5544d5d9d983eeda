"""A DynamoDB that accepts connections and never answers: the WebSocket handler refuses `$connect` and answers
actions in the contract's error shape well inside API Gateway's 29 s (session_runtime/timeouts.py).

The handler runs as deployed, with only the DynamoDB endpoint pointed at the hung server (the `hung_handlers`
fixture, tests/support/hung.py). The HTTP handler's answers are in tests/http/test_hung_dynamodb.py.
"""

from __future__ import annotations

import json

import pytest

from tests.support.hung import BOUND_SECONDS, SESSION_ID, timed
from tests.support.ws_events import connect_event, message_event, new_connection_id


@pytest.fixture(autouse=True)
def _handler_imported() -> None:
    """The handler module is imported before any clock starts: a cold import is not what is timed."""
    import connection_handler.app  # noqa: F401


def test_websocket_connect_is_refused_503_in_the_contract_shape_when_dynamodb_hangs(hung_handlers) -> None:
    event = connect_event(new_connection_id(), {"sessionId": SESSION_ID})
    response, elapsed = timed(lambda: hung_handlers.websocket(event))
    assert elapsed < BOUND_SECONDS, elapsed
    assert response["statusCode"] == 503
    error = json.loads(response["body"])["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE" and error["requestId"]


@pytest.mark.parametrize("frame", [{"action": "join", "id": "j1"}, {"action": "broadcast", "data": 1}])
def test_websocket_actions_answer_an_error_event_in_time_when_dynamodb_hangs(hung_handlers, frame) -> None:
    event = message_event(new_connection_id(), frame)
    response, elapsed = timed(lambda: hung_handlers.websocket(event))
    assert elapsed < BOUND_SECONDS, elapsed
    assert response["statusCode"] == 200  # an action's answer is a frame, whatever it says
    answer = json.loads(response["body"])
    assert (answer["type"], answer["code"]) == ("error", "SERVICE_UNAVAILABLE")
    assert answer.get("id") == frame.get("id")
