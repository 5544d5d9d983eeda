"""Lambda's Invoke API for the local stack's functions, so a handler can invoke another function as it
would on AWS (boto3's `lambda` client; the workers' `AWS_ENDPOINT_URL_LAMBDA` points here).

`POST /_lambda/2015-03-31/functions/{name}/invocations` on the HTTP gateway's port. A function's name is
its declared name (session_schema/functions.py), also accepted as an ARN or with a `:$LATEST` qualifier.
`X-Amz-Invocation-Type: Event` queues the event (202, run on a worker when one is free), the default
`RequestResponse` answers 200 with the result; a function error is 200 with `X-Amz-Function-Error:
Unhandled` and Lambda's `{"errorType", "errorMessage"}`, a throttle 429 TooManyRequestsException.

A queued event is retried as Lambda's asynchronous queue retries it (the function's declared
`AsyncInvoke`, which the CDK stack deploys too): a function error (a raise, a crash, a timeout) up to
`retry_attempts` more times, after Lambda's waits (a minute, then two; here `time_scale` of them); a
throttle with backoff (1 s doubling to 5 min, scaled) while younger than `max_event_age_seconds`. Past
either, the event's record, in the shape Lambda sends to an on-failure destination, is appended to
`failures` (the dead-letter queue's stand-in), counted in `counts` and logged: never dropped silently.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from session_schema.functions import FUNCTIONS_BY_NAME, AsyncInvoke

from local.http_response import HttpResponse

from .lambda_pools import FunctionError, HandlerUnavailable, LambdaContext, Throttled, WorkerCrashed

logger = logging.getLogger("local.lambda")

LAMBDA_PREFIX = "/_lambda"  # AWS_ENDPOINT_URL_LAMBDA = http://<host>:<port>/_lambda
_FUNCTIONS_PATH = LAMBDA_PREFIX + "/2015-03-31/functions/"

Invoke = Callable[[str, Any], Any]

# Lambda's documented waits before the retries of a function error, and its throttle backoff's bounds.
FUNCTION_ERROR_WAITS = (60.0, 120.0)
THROTTLE_WAIT_FIRST, THROTTLE_WAIT_MAX = 1.0, 300.0
# Locally a minute of Lambda's waits is a second: a retried shard arrives while its listeners still wait.
TIME_SCALE = 1 / 60


@dataclass
class _Queued:
    """One asynchronous invocation in the queue: its event and how it went so far."""

    name: str
    event: Any
    request_id: str
    queued_at: float
    attempts: int = 0  # function errors so far (throttles are not attempts)
    throttles: int = 0
    last_error: Exception | None = None


def _error(status: int, error_type: str, message: str, *, reason: str | None = None) -> HttpResponse:
    headers = [("x-amzn-errortype", error_type), ("x-amzn-requestid", str(uuid.uuid4()))]
    body = {"Type": "User", "message": message} | ({"Reason": reason} if reason else {})
    return HttpResponse.json(status, body, headers)


def _function_name(raw: str) -> str:
    name = unquote(raw)
    if ":function:" in name:  # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
        name = name.split(":function:", 1)[1]
    return name.split(":", 1)[0]


class LambdaApi:
    def __init__(
        self, invoke: Invoke, names: Callable[[], set[str]], executor: Executor, *, time_scale: float = TIME_SCALE
    ) -> None:
        self._invoke = invoke
        self._names = names
        self._executor = executor
        self.time_scale = time_scale
        self.failures: list[dict[str, Any]] = []  # on-failure destination records, oldest first
        self.counts: Counter[str] = Counter()  # per outcome: Retried, Throttled, AsyncEventsDropped
        self._lock = threading.Lock()

    def handles(self, raw_path: str) -> bool:
        return raw_path.startswith(LAMBDA_PREFIX + "/")

    def answer(self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes) -> HttpResponse:
        if method != "POST" or not raw_path.startswith(_FUNCTIONS_PATH) or not raw_path.endswith("/invocations"):
            return _error(404, "ResourceNotFoundException", "only Invoke is served locally")
        name = _function_name(raw_path[len(_FUNCTIONS_PATH) : -len("/invocations")])
        if name not in self._names():
            return _error(404, "ResourceNotFoundException", f"Function not found: {name}")
        try:
            event = json.loads(body) if body.strip() else {}
        except ValueError:
            return _error(400, "InvalidRequestContentException", "Could not parse request body into json")
        request_id = str(uuid.uuid4())
        if headers.get("x-amz-invocation-type", "RequestResponse") == "Event":
            self._executor.submit(self._run_queued, _Queued(name, event, request_id, time.monotonic()))
            return HttpResponse(202, [("x-amzn-requestid", request_id)])
        try:
            result = self._invoke(name, event)
        except Throttled as error:
            return _error(429, "TooManyRequestsException", str(error), reason=error.reason)
        except (FunctionError, WorkerCrashed, HandlerUnavailable) as error:
            error_type = getattr(error, "error_type", "Runtime.ExitError" if isinstance(error, WorkerCrashed) else "")
            payload = {"errorType": error_type or type(error).__name__, "errorMessage": str(error)}
            headers_out = [("x-amz-function-error", "Unhandled"), ("x-amzn-requestid", request_id)]
            return HttpResponse.json(200, payload, headers_out)
        return HttpResponse.json(200, result, [("x-amzn-requestid", request_id), ("x-amz-executed-version", "$LATEST")])

    def _run_queued(self, queued: _Queued) -> None:
        """One attempt of a queued invocation; a failed one is put back after its wait (a timer, so no
        thread waits) or, past the function's retries or maximum age, sent to the failure destination."""
        config = _async_config(queued.name)
        if time.monotonic() - queued.queued_at > config.max_event_age_seconds * self.time_scale:
            self._destination(queued, "EventAgeExceeded")
            return
        try:
            self._invoke(queued.name, queued.event)
            return
        except Throttled as error:
            queued.throttles += 1
            queued.last_error = error
            wait = min(THROTTLE_WAIT_FIRST * 2 ** (queued.throttles - 1), THROTTLE_WAIT_MAX)
            outcome = "Throttled"
        except Exception as error:  # noqa: BLE001 - a function error, a crash or a timeout: Lambda retries it
            queued.attempts += 1
            queued.last_error = error
            if queued.attempts > config.retry_attempts:
                self._destination(queued, "RetriesExhausted")
                return
            wait = FUNCTION_ERROR_WAITS[min(queued.attempts, len(FUNCTION_ERROR_WAITS)) - 1]
            outcome = "Retried"
        with self._lock:
            self.counts[outcome] += 1
        logger.error(
            "async invocation %s of %s failed (%s), retried in %.1f s: %r",
            queued.request_id,
            queued.name,
            outcome.lower(),
            wait * self.time_scale,
            queued.last_error,
        )
        timer = threading.Timer(wait * self.time_scale, self._resubmit, (queued,))
        timer.daemon = True
        timer.start()

    def _resubmit(self, queued: _Queued) -> None:
        try:
            self._executor.submit(self._run_queued, queued)
        except RuntimeError:  # the stack is stopping: the executor takes no more work
            self._destination(queued, "StackStopped")

    def _destination(self, queued: _Queued, condition: str) -> None:
        """The record Lambda sends to an on-failure destination (here kept in `failures`), counted and logged."""
        error = queued.last_error
        error_type = (getattr(error, "error_type", "") or type(error).__name__) if error is not None else None
        record = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "requestContext": {
                "requestId": queued.request_id,
                "functionArn": LambdaContext(queued.name).invoked_function_arn + ":$LATEST",
                "condition": condition,
                "approximateInvokeCount": queued.attempts,
            },
            "requestPayload": queued.event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": error_type, "errorMessage": str(error)} if error else None,
        }
        with self._lock:
            self.failures.append(record)
            self.counts["AsyncEventsDropped"] += 1
        logger.error(
            "async invocation %s of %s sent to its on-failure destination (%s after %d attempts): %r",
            queued.request_id,
            queued.name,
            condition,
            queued.attempts,
            error,
        )


def _async_config(name: str) -> AsyncInvoke:
    declared = FUNCTIONS_BY_NAME.get(name)
    return declared.async_invoke if declared is not None else AsyncInvoke()
