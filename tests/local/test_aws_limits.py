"""The local stack's AWS limits (local/aws_limits.py): scaled from aws_model/limits.py, token buckets, the Region's
Lambda concurrency (the throttles through the whole stack: tests/e2e/test_aws_limits.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

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


@contextmanager
def _finally(cleanup: Callable[[], None]) -> Iterator[None]:
    try:
        yield
    finally:
        cleanup()


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


def test_the_throttle_charges_a_partition_what_capacity_computes_and_refuses_it_in_dynamodbs_shape():
    """In-process (moto's mock), scale 0.01: a partition serves 10 write units a second. A 15 KB item costs 15
    (aws_model/capacity.py): let in while the bucket held units, it leaves it 5 in debt, so the partition refuses
    until half a second has refilled it; another partition is not touched."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from moto import mock_aws

    from session_schema.keys import TABLE

    from local.dynamodb.moto_throttle import stop_throttling, throttle_partitions

    clock = Clock()
    with mock_aws(), _finally(stop_throttling):  # this process's other tests run moto limitless
        throttle = throttle_partitions(AwsLimits(0.01))
        throttle._clock = clock  # noqa: SLF001 - a frozen instant
        ddb = boto3.client("dynamodb", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))
        ddb.create_table(**TABLE.create_table_kwargs("t"))

        def put(partition: str, n: int) -> None:
            item = {"PK": {"S": partition}, "SK": {"S": f"X{n}"}, "pad": {"S": "x" * 15_000}}
            ddb.put_item(TableName="t", Item=item)

        put("SESSION#a", 1)
        put("SESSION#b", 1)
        clock.now = 0.55  # 5 in debt, 5.5 refilled: half a unit, not one
        with pytest.raises(ClientError) as refused:
            put("SESSION#a", 2)
        clock.now = 0.65
        put("SESSION#a", 2)
    assert refused.value.response["Error"]["Code"] == "ThrottlingException"
    reasons = refused.value.response["throttlingReasons"]
    assert [r["reason"] for r in reasons] == ["TableWriteKeyRangeThroughputExceeded"]
