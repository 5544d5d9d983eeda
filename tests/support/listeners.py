"""A Python-client listener that keeps what its app would see, for the tests and benches that storm a session
(tests/e2e/test_aws_limits.py, bench keynote's real listeners)."""

from __future__ import annotations

import time
from typing import Any

from live_sessions_client import LiveSession, StateChange


class RecordingListener(LiveSession):
    """Its state changes (with the errors the client retried) and every broadcast it was handed, with the time
    it arrived (time.monotonic()). No keepalive: a test or a bench run is shorter than API Gateway's idle timeout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.states: list[StateChange] = []
        self.events: list[dict[str, Any]] = []
        self.arrivals: list[float] = []
        super().__init__(*args, on_state=self.states.append, keepalive=None, **kwargs)

    def errors(self) -> list[BaseException]:
        return [change.error for change in self.states if change.error is not None]

    async def collect(self) -> None:
        async for event in self:
            if event.get("type") == "broadcast":
                self.events.append(event)
                self.arrivals.append(time.monotonic())
