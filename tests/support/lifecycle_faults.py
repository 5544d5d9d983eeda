"""The HTTP handler for the kill-after-write test, imported by the local stack's worker processes by dotted name
(`tests.support.lifecycle_faults.http`): the real handler, and with the header `x-test-die-after-write: 1` the
worker kills itself (SIGKILL) as soon as the handler has written, before it can answer or do anything else."""

from __future__ import annotations

import os
import signal
from typing import Any

from http_session_handler.app import handler as http_handler


def http(event: dict[str, Any], context: Any) -> Any:
    answer = http_handler(event, context)
    if (event.get("headers") or {}).get("x-test-die-after-write") == "1":
        os.kill(os.getpid(), signal.SIGKILL)
    return answer
