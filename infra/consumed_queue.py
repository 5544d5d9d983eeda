"""A queue a function consumes: SQS-managed encryption, TLS only, a dead-letter queue after `max_receive_count`
receives (infra/failure_queue.py), and the L2 event source mapping that hands its messages to the function with the
function's own role (infra/permissions.py EVENT_SOURCE_ACTIONS; SqsEventSource's grant is broader). The notice queue
(infra/notices.py) and the disconnect queue (infra/disconnect_queue.py) are built by it; each says its own settings."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StackConfig
from infra.failure_queue import build_failure_queue


@dataclass(frozen=True)
class ConsumedQueue:
    queue: sqs.Queue
    failures: sqs.Queue
    mapping: lambda_.EventSourceMapping


@dataclass(frozen=True)
class Consumption:
    """How the mapping reads the queue (None: CloudFormation's default)."""

    batch_size: int
    max_batching_window: Duration | None = None
    max_concurrency: int | None = None
    report_batch_item_failures: bool | None = None


def build_consumed_queue(
    scope: Construct,
    config: StackConfig,
    name: str,
    mapping_id: str,
    consumer: lambda_.Function,
    *,
    visibility_timeout: Duration,
    max_receive_count: int,
    consumption: Consumption,
    retention_period: Duration | None = None,
) -> ConsumedQueue:
    """`<name>Queue` with its dead-letter queue `<name>Failures`, consumed by `consumer` through `mapping_id`."""
    failures = build_failure_queue(scope, f"{name}Failures", config)
    queue = sqs.Queue(
        scope,
        f"{name}Queue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=visibility_timeout,
        retention_period=retention_period,
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=max_receive_count, queue=failures),
        removal_policy=config.removal_policy,
    )
    mapping = lambda_.EventSourceMapping(
        scope,
        mapping_id,
        target=consumer,
        event_source_arn=queue.queue_arn,
        batch_size=consumption.batch_size,
        max_batching_window=consumption.max_batching_window,
        max_concurrency=consumption.max_concurrency,
        report_batch_item_failures=consumption.report_batch_item_failures,
    )
    return ConsumedQueue(queue=queue, failures=failures, mapping=mapping)
