"""`bench cost`'s arithmetic: from what one publish made AWS do to dollars per million delivered events."""

from __future__ import annotations

import json

import pytest

from aws_model.capacity import Units
from bench.cost import Assumptions, Measurement, Workload, _events_in, ably, appsync_events, billed_seconds, this_stack

ASSUME = Assumptions(memory_mb=1024, post_concurrency=10, dynamodb_round_trip_ms=5, post_round_trip_ms=10)
WORKLOAD = Workload("w", listeners=1000, events_per_publish=5, events_per_second=5, payload_bytes=200)


def measurement(frames: tuple[int, ...], deliveries: int = 5000, **fields: object) -> Measurement:
    values: dict[str, object] = {
        "deliveries": deliveries,
        "frames": frames,
        "producer_messages": 0,
        "http_requests": 1,
        "invocations": 1,
        "handler_cpu_seconds": 0.0,
        "dynamodb_requests": 0,
        "units": Units(),
        "connections": 1000,
    }
    values.update(fields)
    return Measurement(**values)  # type: ignore[arg-type]


def test_events_carried_in_one_frame_pay_one_message():
    one_per_event = this_stack(measurement((200,) * 5000), WORKLOAD, ASSUME)
    batched = this_stack(measurement((1000,) * 1000), WORKLOAD, ASSUME)
    assert one_per_event.messages == pytest.approx(1.00)  # $1 per million messages, one per delivery
    assert batched.messages == pytest.approx(0.20)  # five events per message


def test_a_frame_over_32_kb_is_metered_as_two_messages():
    assert measurement((32 * 1024 + 1,), deliveries=1).api_gateway_messages == 2
    assert measurement((32 * 1024,), deliveries=1, producer_messages=2).api_gateway_messages == 3


def test_billed_duration_adds_cpu_and_round_trips_rounded_up_per_invocation():
    m = measurement((100,) * 25, handler_cpu_seconds=0.0021, dynamodb_requests=4, invocations=1)
    # 2.1 ms CPU + 25 posts x 45 us + 4 x 5 ms + ceil(25 / 10) x 10 ms = 53.225 ms -> 54 ms
    assert billed_seconds(m, ASSUME) == pytest.approx(0.054)


def test_dynamodb_and_lambda_are_priced_per_delivery():
    m = measurement((1000,) * 1000, units=Units(read=45, write=2), invocations=1, handler_cpu_seconds=0.5)
    dollars = this_stack(m, WORKLOAD, ASSUME)
    assert dollars.dynamodb == pytest.approx((45 * 0.125 + 2 * 0.625) / 5000)
    gb_seconds = billed_seconds(m, ASSUME) * 1024 / 1024
    assert dollars.lambda_ == pytest.approx((0.20 + gb_seconds * 0.0000133334 * 1e6) / 5000)


def test_connection_minutes_follow_the_producers_rate():
    fast = this_stack(measurement((1000,) * 1000), WORKLOAD, ASSUME)
    slow = this_stack(measurement((1000,) * 1000), Workload("w", 1000, 5, 0.5, 200), ASSUME)
    assert slow.connection_minutes == pytest.approx(10 * fast.connection_minutes)


def test_the_managed_services_pay_per_publish_and_per_subscriber():
    assert appsync_events(WORKLOAD) == pytest.approx(1.001, abs=0.001)
    assert ably(WORKLOAD) == pytest.approx(2.5025)
    big = Workload("w", 1000, 1, 5, 6 * 1024)  # two 5 KB increments per operation
    assert appsync_events(big) == pytest.approx(2 * appsync_events(WORKLOAD), rel=0.01)


def test_a_batch_frame_counts_each_event_it_carries():
    batch = {"type": "batch", "events": [{"type": "broadcast", "seq": n} for n in range(3)]}
    assert _events_in(json.dumps(batch).encode()) == 3
    assert _events_in(b'{"type":"broadcast","data":1,"seq":1}') == 1
    assert _events_in(b'{"type":"listenerCount","count":2}') == 0
