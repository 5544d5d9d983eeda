"""Lambda for the local stack: every declared function run as a pool of worker processes (its execution
environments), and Lambda's Invoke API on the HTTP port.

Entry points for the rest of `local/` are `__all__`; the modules are this service's internals:
`lambda_pools` (the pools and their errors), `invoke_api` (`/_lambda/2015-03-31/functions/...`, the
asynchronous queue), `worker` (`python -m local.lambda_service.worker`, started by the pools only).
"""

from __future__ import annotations

from .invoke_api import LAMBDA_PREFIX, LambdaApi
from .lambda_pools import (
    THROTTLE_WAIT_SECONDS,
    TIMEOUT_SECONDS,
    FunctionError,
    Functions,
    HandlerSpec,
    HandlerUnavailable,
    LambdaContext,
    PoolSettings,
    RegionConcurrency,
    Throttled,
    WorkerCrashed,
    worker_environment,
)

__all__ = [
    "LAMBDA_PREFIX",
    "THROTTLE_WAIT_SECONDS",
    "TIMEOUT_SECONDS",
    "FunctionError",
    "Functions",
    "HandlerSpec",
    "HandlerUnavailable",
    "LambdaApi",
    "LambdaContext",
    "PoolSettings",
    "RegionConcurrency",
    "Throttled",
    "WorkerCrashed",
    "worker_environment",
]
