"""A connection's action budget: token buckets kept in memory, so a refused frame costs no DynamoDB request.

Every frame takes a token from the connection's action bucket; a read (an action declared with `reads`:
`history`, `join`; session_protocol/frames.py) also takes as many from its much smaller read bucket, and so
does a speaker action a listener sent (it cost the role read before it was refused). An empty bucket answers
RATE_LIMITED with `retryAfterMs`, the time until a token.

In memory per execution environment, deliberately: a write per frame (a DynamoDB counter) would cost more
than most of the frames it limits. The price: API Gateway spreads one connection's frames over whichever
execution environments are free, so with N of them busy on one connection it gets up to N budgets. That
still bounds it (N is capped by the function's concurrency) and in practice a spammer's frames land on a
few warm environments; the stage throttle and reserved concurrency bound the rest. A new environment
starts a connection with a full bucket.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

MAX_TRACKED_CONNECTIONS: Final = 20_000  # least recently seen forgotten first (~200 B each)


@dataclass
class TokenBucket:
    capacity: float
    rate: float  # tokens per second
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Take one token: 0.0 when there was one, else the seconds until there is (nothing taken)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass(frozen=True)
class Limits:
    action_burst: int
    action_rate: float
    read_burst: int
    read_rate: float


class ActionBudget:
    def __init__(self, limits: Limits, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[TokenBucket, TokenBucket]] = OrderedDict()

    def _buckets_of(self, connection_id: str, now: float) -> tuple[TokenBucket, TokenBucket]:
        buckets = self._buckets.get(connection_id)
        if buckets is None:
            limits = self.limits
            buckets = (
                TokenBucket(limits.action_burst, limits.action_rate, limits.action_burst, now),
                TokenBucket(limits.read_burst, limits.read_rate, limits.read_burst, now),
            )
            self._buckets[connection_id] = buckets
            if len(self._buckets) > MAX_TRACKED_CONNECTIONS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(connection_id)
        return buckets

    def charge(self, connection_id: str, *, reads: int = 0) -> int | None:
        """Charge one frame that reads the table `reads` times: None when it is within budget, else milliseconds
        to wait (an action token is spent even so: a refused frame still costs this function)."""
        now = self._clock()
        actions, read_bucket = self._buckets_of(connection_id, now)
        wait = actions.take(now)
        for _ in range(reads):
            if wait:
                break
            wait = read_bucket.take(now)
        return _ms(wait) if wait else None

    def charge_read(self, connection_id: str) -> None:
        """Count a read the frame already made (a refused speaker action): the next one may be limited."""
        now = self._clock()
        self._buckets_of(connection_id, now)[1].take(now)

    def forget(self, connection_id: str) -> None:
        self._buckets.pop(connection_id, None)


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000 + 0.999))
