"""Fixtures for the WebSocket handler tests: the handler driver as `ws` (tests/support/handlers.py), a live session,
the DynamoDB requests counted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.handlers import Handlers, Live
from tests.support.http_events import FakeLambdaContext
from tests.support.throttles import cancelled, throttled


@pytest.fixture
def ws(handlers: Handlers) -> Handlers:
    """The one handler driver, under the name these tests read best with."""
    return handlers


@pytest.fixture
def live(ws) -> Live:
    session = ws.create_session(owner="owner-1", max_listeners=5)
    speaker = ws.connected(session.sessionId, user="owner-1")
    return Live(session.sessionId, "owner-1", speaker)


@pytest.fixture
def dynamodb_requests(ws) -> Iterator[Counter]:
    """Every DynamoDB request the handler's store client makes from here on, counted by operation name."""
    counter: Counter = Counter()

    def count(model, **kwargs):
        counter[model.name] += 1

    events = ws.runtime.store.client.meta.events
    events.register("before-call.dynamodb", count, unique_id="ws-dynamodb-request-counter")
    yield counter
    events.unregister("before-call.dynamodb", unique_id="ws-dynamodb-request-counter")


@pytest.fixture
def invocations_lasting(monkeypatch) -> Callable[[float], None]:
    """Give each handler invocation `seconds` to retry throttles in (session_store/throttle_retry.py): 0, none."""

    def last(seconds: float) -> None:
        from session_runtime.timeouts import THROTTLE_RETRY_MARGIN_SECONDS

        remaining_ms = int((THROTTLE_RETRY_MARGIN_SECONDS + seconds) * 1000)
        monkeypatch.setattr(FakeLambdaContext, "get_remaining_time_in_millis", lambda self: remaining_ms)

    return last


@pytest.fixture
def throttle(ws, monkeypatch) -> Callable[..., list[str]]:
    """`throttle(operation, times=None)`: the store client's `operation` (query, transact_write_items, ...) is
    throttled as DynamoDB does past botocore's retry, `times` times (None: until the test ends), then answers.
    Returns the list of the calls it throttled (their operation names)."""
    client = ws.runtime.store.client

    def install(operation: str, times: int | None = None) -> list[str]:
        original = getattr(client, operation)
        refused: list[str] = []

        def refuse(**kwargs: Any) -> Any:
            if times is None or len(refused) < times:
                refused.append(operation)
                # a transaction is cancelled, its throttled part named
                transaction = operation == "transact_write_items"
                raise cancelled("ThrottlingError", "None", "None") if transaction else throttled(operation)
            return original(**kwargs)

        monkeypatch.setattr(client, operation, refuse)
        return refused

    return install
