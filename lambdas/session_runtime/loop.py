"""One asyncio event loop per thread, kept for the life of the process.

Lambda handlers are synchronous and one execution environment runs one event at a time, so a fan-out
runs its coroutines on this thread's loop and returns. Keeping the loop (not `asyncio.run`, which makes
and closes one per call) keeps the management API's keep-alive connections open between invocations of a
warm environment. Per thread, because the local stack and the tests run handlers on several threads.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_local = threading.local()


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        loop = _local.loop = asyncio.new_event_loop()
    return loop.run_until_complete(coroutine)
