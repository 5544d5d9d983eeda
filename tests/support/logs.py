"""The handlers' JSON log lines (Powertools Logger), captured whatever stream the logger was built with."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Logs:
    def __init__(self, buffer: io.StringIO) -> None:
        self._buffer = buffer

    @property
    def lines(self) -> list[dict[str, Any]]:
        """Every structured line written so far, as a dict (the logger's own lines only: they are JSON)."""
        return [json.loads(line) for line in self._buffer.getvalue().splitlines() if line.startswith("{")]

    @property
    def text(self) -> str:
        return self._buffer.getvalue()


@contextmanager
def captured_logs() -> Iterator[Logs]:
    from session_runtime.observability import logger

    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)
    try:
        yield Logs(buffer)
    finally:
        logger.registered_handler.setStream(previous)
