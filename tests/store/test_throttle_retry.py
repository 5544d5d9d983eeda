"""The one retry policy for throttles (session_store/throttle_retry.py): what counts as a throttle, the backoff,
and the invocation's deadline that bounds it. A fake clock: each wait moves it on, nothing sleeps."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError

from session_schema.errors import RateLimited, SessionFull
from session_store import throttle_retry
from session_store.aws_errors import is_throttle
from session_store.throttle_retry import invocation, retry_throttled

from tests.support.throttles import cancelled, throttled


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


class Failing:
    """A call that raises `failures` first, then answers "done"."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


@dataclass
class Context:
    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def retry(call: Failing, clock: Clock) -> str:
    return retry_throttled(call, clock=clock, sleep=clock.sleep, rng=lambda: 1.0)


def test_what_counts_as_a_throttle():
    assert is_throttle(throttled(code="ThrottlingException"))
    assert is_throttle(throttled(code="ProvisionedThroughputExceededException"))
    assert is_throttle(cancelled("None", "ThrottlingError"))
    assert is_throttle(RateLimited())
    assert not is_throttle(cancelled("ConditionalCheckFailed", "None"))
    assert not is_throttle(cancelled("TransactionConflict"))
    assert not is_throttle(throttled(code="ValidationException"))
    assert not is_throttle(SessionFull("s", 1))


def test_throttles_are_retried_with_growing_capped_waits_until_the_call_answers():
    clock = Clock()
    call = Failing(*[throttled() for _ in range(7)], cancelled("ThrottlingError"), RateLimited())
    assert retry(call, clock) == "done"
    assert call.calls == 10
    assert clock.waits == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0])  # doubling, at most a second


def test_the_jitter_is_the_upper_half_of_each_wait():
    waits = [throttle_retry.backoff(2, rng=lambda r=r: r) for r in (0.0, 0.5, 1.0)]
    assert waits == pytest.approx([0.1, 0.15, 0.2])


def test_anything_but_a_throttle_is_raised_at_once():
    clock = Clock()
    call = Failing(cancelled("ConditionalCheckFailed"))
    with pytest.raises(ClientError):
        retry(call, clock)
    assert (call.calls, clock.waits) == (1, [])


def test_the_last_throttle_is_raised_once_the_next_wait_would_pass_the_invocations_deadline():
    clock = Clock()
    margin = 6.0
    with invocation(Context(remaining_ms=int((margin + 1.0) * 1000)), margin_seconds=margin):
        # the deadline is read from the real monotonic clock: move the fake one onto it
        clock.now = throttle_retry.time.monotonic()
        call = Failing(*[throttled() for _ in range(100)])
        with pytest.raises(ClientError) as raised:
            retry(call, clock)
    assert is_throttle(raised.value)
    assert sum(clock.waits) <= 1.0 + 0.05  # within the second the invocation had left before its margin
    assert call.calls == len(clock.waits) + 1 < 100


def test_without_an_invocation_a_call_gets_the_default_patience():
    clock = Clock()
    call = Failing(*[throttled() for _ in range(1000)])
    with pytest.raises(ClientError):
        retry(call, clock)
    assert throttle_retry.DEFAULT_PATIENCE_SECONDS - 1.0 <= sum(clock.waits) <= throttle_retry.DEFAULT_PATIENCE_SECONDS


def test_an_invocation_with_no_time_left_does_not_retry():
    clock = Clock()
    with invocation(Context(remaining_ms=5000), margin_seconds=6.0):
        clock.now = throttle_retry.time.monotonic()
        call = Failing(throttled())
        with pytest.raises(ClientError):
            retry(call, clock)
    assert (call.calls, clock.waits) == (1, [])
