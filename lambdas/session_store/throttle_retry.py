"""Throttles retried where they happen, within the invocation's time: the one retry policy of the calls whose
caller must not see a throttle (a `$connect`'s registration, a `$disconnect`'s unregistration, a fan-out's
connection reads).

botocore retries a throttle once (session_runtime/timeouts.py) and never retries a transaction cancelled for a
throttle. A throttled partition recovers within about a second, so these calls back off and try again: capped
exponential backoff with jitter (half fixed, half random: retries of a join storm spread out, and each waits long
enough for the partition to refill), for as long as the invocation has time left before its `deadline`. Past it
the throttle is raised, for the caller's own fallback (429 to a handshake, the fan-out worker for a fan-out).

The deadline is per process: Lambda runs one invocation at a time per execution environment, and each handler
sets it from its context while it runs (`invocation`). A call with no deadline set (a test calling a use
case, a tool) gets `DEFAULT_PATIENCE_SECONDS` of its own.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final, TypeVar

from .aws_errors import is_throttle

T = TypeVar("T")

FIRST_BACKOFF_SECONDS: Final = 0.05
MAX_BACKOFF_SECONDS: Final = 1.0  # about the time a throttled partition takes to refill
DEFAULT_PATIENCE_SECONDS: Final = 10.0


class _Invocation:
    deadline: float | None = None  # time.monotonic() by which retrying stops; None: no invocation running


@contextmanager
def invocation(context: Any, *, margin_seconds: float) -> Iterator[None]:
    """While an invocation runs: retry throttles until `margin_seconds` before its end (the last try and the
    answer must fit in the margin). A context without a remaining time (some tests) leaves the default."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    _Invocation.deadline = None if remaining is None else time.monotonic() + remaining() / 1000 - margin_seconds
    try:
        yield
    finally:
        _Invocation.deadline = None


def backoff(attempt: int, *, rng: Callable[[], float] = random.random) -> float:
    """The wait before try `attempt + 2` (attempt 0: after the first throttle): half fixed, half jitter."""
    ceiling = min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2.0**attempt)
    return ceiling / 2 + rng() * ceiling / 2


def retry_throttled(
    call: Callable[[], T],
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
) -> T:
    """`call()`, tried again after each throttle (aws_errors.is_throttle) while the invocation has time; the last
    throttle is raised once the next wait would pass the deadline. Anything else is raised at once. Only for calls
    that are safe to repeat (conditional, or repeatable as the store's registrations are)."""
    deadline = _Invocation.deadline if _Invocation.deadline is not None else clock() + DEFAULT_PATIENCE_SECONDS
    attempt = 0
    while True:
        try:
            return call()
        except Exception as error:
            if not is_throttle(error):
                raise
            wait = backoff(attempt, rng=rng)
            if clock() + wait > deadline:
                raise
        sleep(wait)
        attempt += 1
