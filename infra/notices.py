"""The notice queue: trailing presence and reaction notices (session_runtime/conflation.py) wait out their second in
SQS (`DelaySeconds`, whole seconds), then its event source mapping hands each to the fan-out worker function, which
sends what pends. A message whose invocation keeps failing goes, after a few receives, to a dead-letter queue: the
slot it was for schedules another at its next change (conflation.STALE_TRAILING_MS), so nothing waits on it.

The functions that record presence changes send to it (infra/permissions.py `notices`); the mapping reads it with
the worker's role (EVENT_SOURCE_ACTIONS), the L2 mapping rather than SqsEventSource, whose grant is broader."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from session_schema.functions import FUNCTIONS_BY_NAME

from infra.config import StackConfig
from infra.consumed_queue import ConsumedQueue, Consumption, build_consumed_queue

NOTICE_BATCH_SIZE = 10  # a batch of due notices at once: each is a few requests
NOTICE_MAX_RECEIVES = 3  # a trailing notice is stale news after a few tries


def build_notice_queue(scope: Construct, config: StackConfig, worker: lambda_.Function) -> ConsumedQueue:
    return build_consumed_queue(
        scope,
        config,
        "Notice",
        "NoticesToFanoutWorker",
        worker,
        # Lambda needs at least the function's timeout, so a message an invocation still holds is not sent twice.
        visibility_timeout=Duration.seconds(FUNCTIONS_BY_NAME[worker.node.id].timeout_seconds),
        retention_period=Duration.minutes(10),  # a notice older than that is news no one waits for
        max_receive_count=NOTICE_MAX_RECEIVES,
        consumption=Consumption(batch_size=NOTICE_BATCH_SIZE),
    )
