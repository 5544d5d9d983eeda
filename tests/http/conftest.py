"""Fixtures for the HTTP handler tests: the handler driver as `api` (real v2 events, against moto and the fake
management API)."""

from __future__ import annotations

import pytest

from tests.support.handlers import Handlers


@pytest.fixture
def api(handlers: Handlers) -> Handlers:
    """The one handler driver (tests/support/handlers.py), under the name these tests read best with."""
    return handlers
