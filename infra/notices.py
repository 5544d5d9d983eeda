"""The notice queue: trailing presence and reaction notices (session_runtime/conflation.py) wait out their second in
SQS (`DelaySeconds`, whole seconds), then its event source mapping hands each to the fan-out worker function, which
sends what pends. A message whose invocation keeps failing goes, after a few receives, to a dead-letter queue: the
slot it was for schedules another at its next change (conflation.STALE_TRAILING_MS), so nothing waits on it.

The functions that record presence changes send to it (infra/permissions.py `notices`); the mapping reads it with
the worker's role (EVENT_SOURCE_ACTIONS), the L2 mapping rather than SqsEventSource, whose grant is broader."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from session_schema.functions import FUNCTIONS_BY_NAME

from infra.config import StackConfig
from infra.failure_queue import build_failure_queue

NOTICE_BATCH_SIZE = 10  # a batch of due notices at once: each is a few requests
NOTICE_MAX_RECEIVES = 3  # a trailing notice is stale news after a few tries


@dataclass(frozen=True)
class NoticeQueue:
    queue: sqs.Queue
    failures: sqs.Queue
    mapping: lambda_.EventSourceMapping


def build_notice_queue(scope: Construct, config: StackConfig, worker: lambda_.Function) -> NoticeQueue:
    failures = build_failure_queue(scope, "NoticeFailures", config)
    timeout = FUNCTIONS_BY_NAME[worker.node.id].timeout_seconds
    queue = sqs.Queue(
        scope,
        "NoticeQueue",
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        # Lambda needs at least the function's timeout, so a message an invocation still holds is not sent twice.
        visibility_timeout=Duration.seconds(timeout),
        retention_period=Duration.minutes(10),  # a notice older than that is news no one waits for
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=NOTICE_MAX_RECEIVES, queue=failures),
        removal_policy=config.removal_policy,
    )
    mapping = lambda_.EventSourceMapping(
        scope,
        "NoticesToFanoutWorker",
        target=worker,
        event_source_arn=queue.queue_arn,
        batch_size=NOTICE_BATCH_SIZE,
    )
    return NoticeQueue(queue=queue, failures=failures, mapping=mapping)
