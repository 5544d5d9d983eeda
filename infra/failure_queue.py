"""The dead-letter queue behind an asynchronously invoked function: where an invocation that failed past
its retries is kept (Lambda's on-failure destination record: the event, the error, the attempts)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StackConfig


def build_failure_queue(scope: Construct, construct_id: str, config: StackConfig) -> sqs.Queue:
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),  # SQS's longest: time to look at what failed and why
        removal_policy=config.removal_policy,
    )
