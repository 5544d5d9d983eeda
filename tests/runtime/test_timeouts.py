"""The AWS clients' timeout budget (session_runtime/timeouts.py); what a hung DynamoDB costs a request is in
tests/http/test_hung_dynamodb.py and tests/ws/test_hung_dynamodb.py."""

from __future__ import annotations

from session_runtime.timeouts import WORST_CALL_SECONDS


def test_the_budget_per_call_leaves_room_inside_the_function_timeout() -> None:
    # The figure the timeouts module reasons with: one hung call, both attempts and the backoff, is far
    # inside the 25 s function timeout (and the 10 s).
    assert WORST_CALL_SECONDS <= 5
