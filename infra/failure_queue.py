"""The dead-letter queue behind an asynchronously invoked function: where an invocation that failed past
its retries is kept (Lambda's on-failure destination record: the event, the error, the attempts)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from session_schema.functions import FUNCTIONS_BY_NAME

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


def keep_async_failures(
    scope: Construct, construct_id: str, config: StackConfig, function: lambda_.Function
) -> sqs.Queue:
    """A dead-letter queue for `function`'s asynchronous invocations, retried as its declaration says
    (session_schema/functions.py `async_invoke`, which the local Invoke API follows too)."""
    declared = FUNCTIONS_BY_NAME[function.node.id].async_invoke
    failures = build_failure_queue(scope, construct_id, config)
    function.configure_async_invoke(
        on_failure=destinations.SqsDestination(failures),
        retry_attempts=declared.retry_attempts,
        max_event_age=Duration.seconds(declared.max_event_age_seconds),
    )
    return failures
