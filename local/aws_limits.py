"""AWS's quotas, enforced by the local stack when asked (`serve --aws-limits`, `LocalStack(aws_limits=...)`).

Off by default: the local stack is limitless unless told. On, every figure comes from `aws_model/limits.py`
(the one declared table), each rate multiplied by `scale` so that tests reach a quota with a handful of clients
(0.01: 5 new WebSocket connections per second, 10 write and 30 read units per second per partition).

Lambda's concurrency has its own factor, `concurrency_scale` (default 1: not scaled). Concurrency is a rate times
a duration: scaling the rates scales the concurrency a load needs only if each invocation lasts as long here as
on Lambda, and here it lasts longer (a few shared cores run the handlers, the embedded DynamoDB and the clients),
so a scaled-down Region would throttle loads AWS serves. Ask for it to see the Region's cap bind (never below one).

What each service does with them:
- the embedded DynamoDB throttles per partition-key value and per item (local/dynamodb/moto_throttle.py);
- the WebSocket gateway refuses handshakes past the account's new-connection rate (local/apigw/ws_gateway.py);
- the Lambda pools honour the Region's concurrency across every function, and throttle at once as Lambda does
  (local/lambda_service/lambda_pools.py).

The embedded DynamoDB runs in its own process: the settings cross to it in one environment variable.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aws_model import limits
from aws_model.limits import Limit

ENVIRONMENT_VARIABLE = "LOCAL_AWS_LIMITS"  # read by the embedded DynamoDB's process
WINDOW_SECONDS = 1.0  # DynamoDB's per-partition limits are per second: a bucket holds one second's units


@dataclass(frozen=True)
class AwsLimits:
    """The quotas the stack enforces: AWS's defaults times `scale` (0 < scale)."""

    scale: float = 1.0
    concurrency_scale: float = 1.0

    def __post_init__(self) -> None:
        for name, value in (("scale", self.scale), ("concurrency_scale", self.concurrency_scale)):
            if not value > 0 or not math.isfinite(value):
                raise ValueError(f"aws limits {name} must be a positive number, not {value!r}")

    def rate(self, limit: Limit) -> float:
        """A per-second quota, scaled (fractions stay: a bucket refills at that rate)."""
        return float(limit.value) * self.scale

    def count(self, limit: Limit) -> int:
        """A concurrency, times `concurrency_scale`, never below one."""
        return max(1, round(float(limit.value) * self.concurrency_scale))

    # -- the figures each service reads --------------------------------------------------------------------

    @property
    def new_connections_per_second(self) -> float:
        return self.rate(limits.NEW_CONNECTIONS_PER_SECOND)

    @property
    def region_concurrency(self) -> int:
        return self.count(limits.CONCURRENCY)

    @property
    def partition_write_units(self) -> float:
        return self.rate(limits.PARTITION_WRITE_UNITS)

    @property
    def partition_read_units(self) -> float:
        return self.rate(limits.PARTITION_READ_UNITS)

    @property
    def item_write_units(self) -> float:
        return self.rate(limits.ITEM_WRITE_UNITS)

    @property
    def item_read_units(self) -> float:
        return self.rate(limits.ITEM_READ_UNITS)

    # -- across the process boundary -----------------------------------------------------------------------

    def to_environment(self) -> dict[str, str]:
        return {ENVIRONMENT_VARIABLE: json.dumps({"scale": self.scale, "concurrency_scale": self.concurrency_scale})}

    @classmethod
    def from_environment(cls, environment: Mapping[str, str]) -> AwsLimits | None:
        """The limits a parent stack asked for, or None (limitless)."""
        raw = environment.get(ENVIRONMENT_VARIABLE)
        if not raw:
            return None
        settings = json.loads(raw)
        return cls(scale=float(settings["scale"]), concurrency_scale=float(settings.get("concurrency_scale", 1.0)))

    def describe(self) -> str:
        """One line for the stack's start-up log."""
        return (
            f"{self.new_connections_per_second:g} new WebSocket connections/s (then 429), "
            f"{self.partition_write_units:g} WCU / {self.partition_read_units:g} RCU a second per partition-key value "
            f"and per item (then ThrottlingException), {self.region_concurrency} concurrent Lambda executions per "
            "Region (then TooManyRequestsException)"
        )


class TokenBucket:
    """`rate` tokens a second, holding at most `capacity` (default: one window's worth, at least one token).

    `take(n)` is all or nothing (a new connection: one token). DynamoDB's units are known only once a request
    ran (a Query's page), so `admits()` / `spend(units)` let a request in while the bucket holds a token and
    charge it afterwards, into debt if it cost more: a bucket in debt refuses until it has refilled. Over any
    stretch the units served stay within `rate` per second plus one request's overshoot. Thread-safe."""

    def __init__(self, rate: float, capacity: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError(f"a token bucket needs a positive rate, not {rate!r}")
        self.rate = rate
        self.capacity = capacity if capacity is not None else max(1.0, rate * WINDOW_SECONDS)
        self._clock = clock
        self._tokens = self.capacity
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def take(self, tokens: float = 1.0) -> bool:
        with self._lock:
            self._refill()
            if self._tokens < tokens:
                return False
            self._tokens -= tokens
            return True

    def admits(self) -> bool:
        with self._lock:
            self._refill()
            return self._tokens >= min(1.0, self.capacity)

    def spend(self, tokens: float) -> None:
        with self._lock:
            self._refill()
            self._tokens -= tokens

    def seconds_until(self, tokens: float = 1.0) -> float:
        """How long until `take(tokens)` would succeed (0 now)."""
        with self._lock:
            self._refill()
            return max(0.0, (tokens - self._tokens) / self.rate)
