"""The fan-out worker's asynchronous invocations: Lambda retries a failed shard, and past the retries keeps
its record in a dead-letter queue (an alarm in infra/alarms.py watches it), so a shard is never lost
silently. Which functions may invoke the worker is in infra/permissions.py."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StackConfig
from infra.failure_queue import build_failure_queue

# Lambda's own default, stated: a shard that raised (it could not read its connections) is tried twice more,
# a minute and then two after the first try. Posts that failed inside a shard are not retried this way:
# they are counted (FanoutFailed) and the client catches up by seq (join's sinceSeq, GET /events).
RETRY_ATTEMPTS = 2
# A shard still queued after this is stale news for live listeners (they recover by seq instead): it goes
# to the queue rather than being posted late.
MAX_EVENT_AGE = Duration.minutes(10)


def build_fanout_worker_failures(scope: Construct, config: StackConfig, worker: lambda_.Function) -> sqs.Queue:
    failures = build_failure_queue(scope, "FanoutShardFailures", config)
    worker.configure_async_invoke(
        on_failure=destinations.SqsDestination(failures), retry_attempts=RETRY_ATTEMPTS, max_event_age=MAX_EVENT_AGE
    )
    return failures
