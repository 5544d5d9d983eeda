"""Lambda's Invoke API for the local stack's functions, so a handler can invoke another function as it
would on AWS (boto3's `lambda` client; the workers' `AWS_ENDPOINT_URL_LAMBDA` points here).

`POST /_lambda/2015-03-31/functions/{name}/invocations` on the HTTP gateway's port. A function's name is
its declared name (session_schema/functions.py), also accepted as an ARN or with a `:$LATEST` qualifier.
`X-Amz-Invocation-Type: Event` queues the event (202, run on a worker when one is free), the default
`RequestResponse` answers 200 with the result; a function error is 200 with `X-Amz-Function-Error:
Unhandled` and Lambda's `{"errorType", "errorMessage"}`, a throttle 429 TooManyRequestsException.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any
from urllib.parse import unquote

from .http_api_events import HttpResponse
from .lambdas import FunctionError, HandlerUnavailable, Throttled, WorkerCrashed

logger = logging.getLogger("local.lambda")

LAMBDA_PREFIX = "/_lambda"  # AWS_ENDPOINT_URL_LAMBDA = http://<host>:<port>/_lambda
_FUNCTIONS_PATH = LAMBDA_PREFIX + "/2015-03-31/functions/"

Invoke = Callable[[str, Any], Any]


def _error(status: int, error_type: str, message: str) -> HttpResponse:
    headers = [("x-amzn-errortype", error_type), ("x-amzn-requestid", str(uuid.uuid4()))]
    return HttpResponse.json(status, {"Type": "User", "message": message}, headers)


def _function_name(raw: str) -> str:
    name = unquote(raw)
    if ":function:" in name:  # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
        name = name.split(":function:", 1)[1]
    return name.split(":", 1)[0]


class LambdaApi:
    def __init__(self, invoke: Invoke, names: Callable[[], set[str]], executor: Executor) -> None:
        self._invoke = invoke
        self._names = names
        self._executor = executor

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
            self._executor.submit(self._run_queued, name, event)
            return HttpResponse(202, [("x-amzn-requestid", request_id)])
        try:
            result = self._invoke(name, event)
        except Throttled as error:
            return _error(429, "TooManyRequestsException", str(error))
        except (FunctionError, WorkerCrashed, HandlerUnavailable) as error:
            error_type = getattr(error, "error_type", "Runtime.ExitError" if isinstance(error, WorkerCrashed) else "")
            payload = {"errorType": error_type or type(error).__name__, "errorMessage": str(error)}
            headers_out = [("x-amz-function-error", "Unhandled"), ("x-amzn-requestid", request_id)]
            return HttpResponse.json(200, payload, headers_out)
        return HttpResponse.json(200, result, [("x-amzn-requestid", request_id), ("x-amz-executed-version", "$LATEST")])

    def _run_queued(self, name: str, event: Any) -> None:
        """An asynchronous invocation: Lambda's queue retries a failed one twice; so does this."""
        for attempt in range(3):
            try:
                self._invoke(name, event)
                return
            except Exception as error:  # noqa: BLE001 - logged, retried, then dropped (no destination locally)
                logger.error("async invocation of %s failed (attempt %d of 3): %r", name, attempt + 1, error)
