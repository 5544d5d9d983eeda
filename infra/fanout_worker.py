"""The fan-out worker's asynchronous invocations: Lambda retries a failed shard, and past the retries keeps
its record in a dead-letter queue (an alarm in infra/alarms.py watches it), so a shard is never lost
silently. Which functions may invoke the worker is in infra/permissions.py."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from session_schema.functions import FANOUT_WORKER_FUNCTION, FUNCTIONS_BY_NAME

from infra.config import StackConfig
from infra.failure_queue import build_failure_queue

# Declared with the function (session_schema/functions.py), so the local Invoke API retries the same way.
# Posts that failed inside a shard are not retried this way: they are counted (FanoutFailed) and the client
# catches up by seq (join's sinceSeq, GET /events).
ASYNC_INVOKE = FUNCTIONS_BY_NAME[FANOUT_WORKER_FUNCTION].async_invoke


def build_fanout_worker_failures(scope: Construct, config: StackConfig, worker: lambda_.Function) -> sqs.Queue:
    failures = build_failure_queue(scope, "FanoutShardFailures", config)
    worker.configure_async_invoke(
        on_failure=destinations.SqsDestination(failures),
        retry_attempts=ASYNC_INVOKE.retry_attempts,
        max_event_age=Duration.seconds(ASYNC_INVOKE.max_event_age_seconds),
    )
    return failures
