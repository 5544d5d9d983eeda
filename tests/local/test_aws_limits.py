"""The local stack's AWS limits (local/aws_limits.py): scaled from aws_model/limits.py, token buckets, the Region's
Lambda concurrency (the throttles through the whole stack: tests/e2e/test_aws_limits.py)."""

from __future__ import annotations

import pytest

from aws_model import limits
from local.aws_limits import AwsLimits, TokenBucket
from local.lambda_service import RegionConcurrency, Throttled


def test_every_figure_is_aws_s_times_the_scale_and_crosses_to_another_process_intact():
    scaled = AwsLimits(0.01)
    assert scaled.new_connections_per_second == limits.NEW_CONNECTIONS_PER_SECOND.value * 0.01
    assert scaled.partition_write_units == limits.PARTITION_WRITE_UNITS.value * 0.01
    assert scaled.item_read_units == limits.ITEM_READ_UNITS.value * 0.01
    assert scaled.region_concurrency == limits.CONCURRENCY.value  # not scaled unless asked
    assert AwsLimits(0.01, concurrency_scale=0.0001).region_concurrency == 1  # never below one
    assert AwsLimits.from_environment(scaled.to_environment()) == scaled
    assert AwsLimits.from_environment({}) is None
    with pytest.raises(ValueError, match="scale"):
        AwsLimits(0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_holds_one_second_refills_at_its_rate_and_a_request_that_cost_more_leaves_it_in_debt():
    clock = Clock()
    bucket = TokenBucket(5, clock=clock)
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    clock.now = 0.2
    assert bucket.take() and not bucket.take()
    clock.now = 10
    assert bucket.admits()
    bucket.spend(15)  # ran, and cost three seconds' worth
    clock.now = 11
    assert not bucket.admits()  # still 5 in debt
    clock.now = 12.4
    assert bucket.admits()


def test_the_regions_concurrency_throttles_at_once_with_lambdas_reason():
    region = RegionConcurrency(2)
    region.enter("A")
    region.enter("B")
    with pytest.raises(Throttled) as throttled:
        region.enter("A")
    assert throttled.value.reason == "ConcurrentInvocationLimitExceeded"
    region.leave()
    region.enter("A")
