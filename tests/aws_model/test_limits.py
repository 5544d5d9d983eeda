"""The limits model: one declared table whose entries are sourced, dated and consistent with each other and
with the constants the code builds on them."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlparse

from aws_model import limits
from aws_model.limits import LIMITS, Limit


def test_every_limit_declared_is_in_the_one_table_once():
    declared = [value for value in vars(limits).values() if isinstance(value, Limit)]
    assert set(declared) == set(LIMITS)
    assert len({(limit.service, limit.name) for limit in LIMITS}) == len(LIMITS)


def test_every_limit_is_positive_and_cites_an_aws_page_checked_on_a_past_day():
    for limit in LIMITS:
        assert limit.value > 0, limit
        url = urlparse(limit.source)
        assert url.scheme == "https" and url.netloc == "docs.aws.amazon.com", limit
        assert limit.checked <= date.today(), limit


def test_an_item_never_gets_more_than_its_partition_and_a_partition_less_than_a_new_table():
    assert limits.ITEM_WRITE_UNITS.value <= limits.PARTITION_WRITE_UNITS.value <= limits.ON_DEMAND_WARM_WRITES.value
    assert limits.ITEM_READ_UNITS.value <= limits.PARTITION_READ_UNITS.value <= limits.ON_DEMAND_WARM_READS.value
    assert limits.ITEM_SIZE.value < limits.QUERY_PAGE.value  # a page holds at least one item
    assert limits.TRANSACTION_ACTIONS.value * limits.ITEM_SIZE.value > limits.TRANSACTION_SIZE.value


def test_a_frame_fits_a_message_and_timeouts_nest():
    assert limits.WEBSOCKET_FRAME.value < limits.WEBSOCKET_MESSAGE.value
    assert limits.INTEGRATION_TIMEOUT.value < limits.IDLE_TIMEOUT.value < limits.CONNECTION_DURATION.value


def test_the_code_builds_on_the_same_numbers():
    from session_protocol.frames import FRAME_MAX_BYTES
    from session_runtime.shards import ShardJob
    from session_schema.functions import FUNCTIONS

    assert FRAME_MAX_BYTES == limits.WEBSOCKET_FRAME.value
    # a shard job carries up to two events, each at most a WebSocket message, in one asynchronous invoke
    most_payloads = ShardJob.model_fields["payloads"].metadata[-1].max_length
    assert most_payloads * limits.WEBSOCKET_MESSAGE.value <= limits.ASYNC_PAYLOAD.value
    for function in FUNCTIONS:  # every handler API Gateway waits for ends within the integration timeout
        if function.name in ("HttpSessionFunction", "ConnectionFunction"):
            assert function.timeout_seconds < limits.INTEGRATION_TIMEOUT.value, function
