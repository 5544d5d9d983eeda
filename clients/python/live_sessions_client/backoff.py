"""Capped exponential backoff with "equal jitter": half of each step is fixed, half random, so many clients
dropped at once (a deploy, API Gateway's 2-hour cap) do not all come back in the same instant, and none waits
longer than `max`. The twin of the TypeScript client's `backoff.ts` (seconds here, ms there)."""

from __future__ import annotations

import random as _random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class BackoffOptions:
    initial: float = 0.5  # the first step, in seconds
    max: float = 30.0  # no delay is longer than this
    factor: float = 2.0  # each step is this many times the previous one


def backoff_delay(
    attempt: int, options: BackoffOptions | None = None, random: Callable[[], float] = _random.random
) -> float:
    options = options or BackoffOptions()
    step = min(options.max, options.initial * options.factor ** max(0, attempt))
    return step / 2 + random() * (step / 2)


def retry_delay(
    attempt: int,
    options: BackoffOptions | None,
    retry_after: float | None,
    random: Callable[[], float] = _random.random,
) -> float:
    """The backoff step, but never sooner than the server's `Retry-After`."""
    return max(backoff_delay(attempt, options, random), retry_after or 0.0)


# A session's listeners that all dropped at once (a deploy, a network blip) spread their first reconnect over the
# time API Gateway takes to admit them all (500 new connections a second per account and Region by default), at
# most 5 minutes; a renewal ahead of the 2-hour cap happens at a random point of the last fifth of `renew_after`,
# so listeners who joined together do not all renew together.
RECONNECT_RATE = 500.0
RECONNECT_SPREAD_MAX = 300.0
RENEW_JITTER = 0.2


def reconnect_spread(listeners: int) -> float:
    """Seconds over which the listeners of a session of `listeners` spread their first reconnect after a drop."""
    return min(RECONNECT_SPREAD_MAX, max(0, listeners) / RECONNECT_RATE)


def renewal_delay(renew_after: float, random: Callable[[], float] = _random.random) -> float:
    """When to renew one connection: `renew_after`, less up to a fifth of it at random."""
    return renew_after * (1 - RENEW_JITTER * random())
