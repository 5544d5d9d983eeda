"""Fixtures for the WebSocket handler tests: the handler driver as `ws` (tests/support/handlers.py), a live session,
the DynamoDB requests counted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from tests.support.handlers import Handlers, Live


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
