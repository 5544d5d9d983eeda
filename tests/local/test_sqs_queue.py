"""The local SQS queue's event source mapping (local/sqs/queue.py): a throttled delivery is retried by the mapping
and is not a receive (Lambda's poller retries it within the visibility timeout), a failed one or a record the
function reports failed comes back after the visibility timeout until its receives run out, and no more batches
are in flight than the mapping's maximum concurrency."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from local.lambda_service import Throttled
from local.sqs import DelayQueue

ARN = "arn:aws:sqs:us-east-1:000000000000:test-queue"


def _queue(invoke: Any, **options: Any) -> DelayQueue:
    queue = DelayQueue(ARN, invoke, visibility_timeout_seconds=0.05, **options)
    queue.start()
    return queue


def test_a_throttled_delivery_is_retried_and_is_not_a_receive():
    refusals = 5
    seen: list[str] = []

    def invoke(event: Mapping[str, Any]) -> Any:
        if len(seen) < refusals:
            seen.append("throttled")
            raise Throttled("all execution environments busy")
        seen.append(event["Records"][0]["attributes"]["ApproximateReceiveCount"])
        return {"batchItemFailures": []}

    queue = _queue(invoke, max_receives=2)  # fewer receives than throttles: a throttle must not spend one
    try:
        queue.send("leave", 0)
        assert queue.drain(timeout=10)
    finally:
        queue.stop()
    assert (queue.throttled, queue.delivered, queue.failures) == (refusals, 1, [])
    assert seen[-1] == "1"  # delivered on its first receive


def test_a_record_reported_failed_comes_back_until_its_receives_run_out():
    receives: list[str] = []

    def invoke(event: Mapping[str, Any]) -> Any:
        (record,) = event["Records"]
        receives.append(record["attributes"]["ApproximateReceiveCount"])
        return {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}

    queue = _queue(invoke, max_receives=3)
    try:
        message_id = queue.send("leave", 0)
        assert queue.drain(timeout=10)
    finally:
        queue.stop()
    assert receives == ["1", "2", "3"]
    assert [record["messageId"] for record in queue.failures] == [message_id]
    assert queue.delivered == 0


def test_no_more_batches_in_flight_than_the_maximum_concurrency():
    lock, in_flight, most = threading.Lock(), [0], [0]
    release = threading.Event()

    def invoke(event: Mapping[str, Any]) -> Any:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        release.wait(0.05)
        with lock:
            in_flight[0] -= 1
        return None

    queue = _queue(invoke, max_concurrency=2)
    try:
        for index in range(12):
            queue.send(f"leave {index}", 0)
        assert queue.drain(timeout=10)
    finally:
        queue.stop()
    assert queue.delivered == 12
    assert most[0] == 2
