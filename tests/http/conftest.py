"""Fixtures for the HTTP handler tests: the handler driver as `api` (real v2 events, against moto and the fake
management API), the handler's log lines."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from tests.support.handlers import Handlers


@pytest.fixture
def api(handlers: Handlers) -> Handlers:
    """The one handler driver (tests/support/handlers.py), under the name these tests read best with."""
    return handlers


class Logs:
    """The handler's JSON log lines (Powertools Logger), captured whatever stream it was built with."""

    def __init__(self, buffer: io.StringIO) -> None:
        self._buffer = buffer

    @property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._buffer.getvalue().splitlines() if line.startswith("{")]

    @property
    def text(self) -> str:
        return self._buffer.getvalue()


@pytest.fixture
def logs() -> Logs:
    from session_runtime.observability import logger

    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)
    yield Logs(buffer)
    logger.registered_handler.setStream(previous)
