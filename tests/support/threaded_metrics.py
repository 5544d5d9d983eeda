"""Let many handler invocations share one process's Powertools Metrics, as the race tests run them.

Powertools keeps one metric set per process: Lambda runs one invocation per execution environment at a
time, so `@metrics.log_metrics` checks the set, serializes and clears it without a lock. The race tests
run many invocations at once in threads of one process (the local stack does not: each of its worker
processes serves one event at a time, local/lambda_service/lambda_pools.py); there one invocation's
flush could empty the set between another's check and its serialize, and that invocation failed with
"Must contain at least one metric". One lock around the metric set's operations restores what Lambda
gives each invocation. Handler code is unchanged. Applied once per process.
"""

from __future__ import annotations

import threading

from local.dynamodb.serialize import serialize_methods

_METHODS = (
    "add_metric",
    "add_dimension",
    "add_dimensions",
    "add_metadata",
    "set_default_dimensions",
    "serialize_metric_set",
    "clear_metrics",
    "flush_metrics",
)
_lock = threading.RLock()  # re-entrant: add_metric flushes by itself every 100 values
_applied = False


def make_metrics_thread_safe() -> None:
    global _applied
    if _applied:
        return
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    serialize_methods(AmazonCloudWatchEMFProvider, _METHODS, _lock)
    _applied = True
