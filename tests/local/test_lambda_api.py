"""The local Invoke API's asynchronous queue (local/lambda_service/invoke_api.py) retries as Lambda's does, with the
function's declared AsyncInvoke (the values the CDK stack deploys): a function error twice more after the
documented waits (a minute, then two; scaled here), a throttle with backoff not counted as an attempt,
then a record in Lambda's on-failure shape, counted; an event past its maximum age is not run."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from session_schema.functions import FANOUT_WORKER_FUNCTION, FUNCTIONS_BY_NAME

from local.lambda_service.invoke_api import LambdaApi
from local.lambda_service.lambda_pools import FunctionError, Throttled

PATH = f"/_lambda/2015-03-31/functions/{FANOUT_WORKER_FUNCTION}/invocations"
SCALE = 0.002  # Lambda's one minute is 0.12 s here
DECLARED = FUNCTIONS_BY_NAME[FANOUT_WORKER_FUNCTION].async_invoke


class Worker:
    """The function behind the API: fails as told, in order, then succeeds; records when each attempt came."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.attempts: list[float] = []

    def __call__(self, name: str, event: Any) -> Any:
        self.attempts.append(time.monotonic())
        if self.failures:
            raise self.failures.pop(0)
        return {"ok": True}


def _queue(worker: Worker, **options: Any) -> LambdaApi:
    return LambdaApi(worker, lambda: {FANOUT_WORKER_FUNCTION}, ThreadPoolExecutor(4), time_scale=SCALE, **options)


def _invoke_async(api: LambdaApi, event: dict[str, Any]) -> int:
    body = json.dumps(event).encode()
    return api.answer("POST", PATH, {"x-amz-invocation-type": "Event"}, body).status


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the queue did not get there"
        time.sleep(0.01)


def test_the_worker_is_declared_with_two_retries_and_a_ten_minute_event_age():
    assert (DECLARED.retry_attempts, DECLARED.max_event_age_seconds) == (2, 600)


def test_a_function_error_is_retried_after_a_minute_then_two_and_then_succeeds():
    worker = Worker(FunctionError("ConnectionError", "Query failed"), FunctionError("ConnectionError", "again"))
    api = _queue(worker)
    assert _invoke_async(api, {"shard": 1}) == 202
    _wait_for(lambda: len(worker.attempts) == 3)
    first, second, third = worker.attempts
    assert second - first >= 60 * SCALE and third - second >= 120 * SCALE  # Lambda's waits, scaled
    assert api.failures == [] and api.counts == {"Retried": 2}


def test_past_its_retries_the_event_goes_to_the_on_failure_destination_and_is_counted(caplog):
    worker = Worker(*[FunctionError("ConnectionError", f"attempt {n}") for n in range(1, 5)])
    api = _queue(worker)
    _invoke_async(api, {"sessionId": "quiet-river-123", "shard": 2})
    _wait_for(lambda: api.failures)
    time.sleep(0.3)  # past the next wait: no attempt follows the record
    assert len(worker.attempts) == 1 + DECLARED.retry_attempts  # never a fourth
    (record,) = api.failures
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(f":function:{FANOUT_WORKER_FUNCTION}:$LATEST")
    assert record["requestPayload"] == {"sessionId": "quiet-river-123", "shard": 2}
    assert record["responsePayload"] == {"errorType": "ConnectionError", "errorMessage": "ConnectionError: attempt 3"}
    assert api.counts == {"Retried": 2, "AsyncEventsDropped": 1}
    assert any("sent to its on-failure destination (RetriesExhausted" in r.getMessage() for r in caplog.records)


def test_a_throttle_is_retried_with_backoff_and_is_not_an_attempt():
    worker = Worker(Throttled("busy"), Throttled("busy"), FunctionError("E", "1"), FunctionError("E", "2"))
    api = _queue(worker)
    _invoke_async(api, {"shard": 1})
    _wait_for(lambda: len(worker.attempts) == 5)
    first, second, third = worker.attempts[:3]
    assert second - first >= 1 * SCALE and third - second >= 2 * SCALE  # 1 s, doubling
    assert api.failures == [] and api.counts == {"Throttled": 2, "Retried": 2}  # the fifth try succeeded


def test_an_event_throttled_past_its_maximum_age_is_sent_to_the_destination_without_an_attempt():
    worker = Worker(*[Throttled("busy")] * 100)  # 1 s doubling to 5 min: past 10 min after ~10 throttles
    api = _queue(worker)
    _invoke_async(api, {"shard": 3})
    _wait_for(lambda: api.failures)
    (record,) = api.failures
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0  # throttles are not invocations
    assert 9 <= len(worker.attempts) <= 11 and api.counts["AsyncEventsDropped"] == 1
