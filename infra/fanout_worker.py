"""The fan-out worker's asynchronous invocations: Lambda retries a failed shard, and past the retries keeps
its record in a dead-letter queue (an alarm in infra/alarms.py watches it), so a shard is never lost
silently. Which functions may invoke the worker is in infra/permissions.py.

Posts that failed inside a shard are not retried this way: they are counted (FanoutFailed) and the client
catches up by seq (join's sinceSeq, GET /events)."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StackConfig
from infra.failure_queue import keep_async_failures


def build_fanout_worker_failures(scope: Construct, config: StackConfig, worker: lambda_.Function) -> sqs.Queue:
    return keep_async_failures(scope, "FanoutShardFailures", config, worker)
