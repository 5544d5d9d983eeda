"""Lifecycle events: the table's change stream read into the events function, the stack's own EventBridge
bus it puts on, and, with `-c webhookUrl=...`, a rule that delivers every event to that URL.

- The event source mapping takes its batch size, bisect, retries and record age from the function's
  declaration (session_schema/functions.py, which the local poller reads too), and its filter patterns from
  session_schema/lifecycle.py, so stream-event, message and connection items never invoke the function.
  A batch given up on goes (as pointers into the stream) to a dead-letter queue; `python -m
  lifecycle_events.redrive` reads them back while the stream still holds them (24 hours), and an alarm
  (infra/alarms.py) fires long before that.
- The webhook is an API destination behind an EventBridge connection whose API key is generated into
  Secrets Manager (the receiver reads it there and checks the `X-Webhook-Key` header); deliveries that fail
  past EventBridge's retries go to their own dead-letter queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from session_schema.functions import FUNCTIONS_BY_NAME, LIFECYCLE_EVENTS_FUNCTION, StreamSource
from session_schema.lifecycle import SOURCE, STREAM_FILTER_PATTERNS

from infra.config import StackConfig
from infra.failure_queue import build_failure_queue

STREAM_SOURCE: StreamSource = FUNCTIONS_BY_NAME[LIFECYCLE_EVENTS_FUNCTION].stream_source or StreamSource()
WEBHOOK_KEY_HEADER = "X-Webhook-Key"
# EventBridge retries a delivery for up to 24 hours by default; a lifecycle event a day late is still worth
# having (billing, analytics), so the default stands, with at most this many attempts.
WEBHOOK_RETRY_ATTEMPTS = 185  # EventBridge's own maximum and default


@dataclass(frozen=True)
class Webhook:
    rule: events.Rule
    destination: events.ApiDestination
    connection: events.Connection
    key: secretsmanager.Secret
    failures: sqs.Queue


@dataclass(frozen=True)
class LifecycleEvents:
    bus: events.EventBus
    mapping: lambda_.EventSourceMapping
    failures: sqs.Queue  # the mapping's on-failure destination: pointers to the batches given up on
    webhook: Webhook | None


def build_lifecycle_events(
    scope: Construct, config: StackConfig, *, table: dynamodb.Table, function: lambda_.Function
) -> LifecycleEvents:
    if table.table_stream_arn is None:
        raise ValueError("the table has no stream (infra/table.py must enable it)")
    bus = events.EventBus(scope, "LifecycleEventBus", description="Lifecycle events of sessions and artifacts")
    failures = build_failure_queue(scope, "LifecycleEventFailures", config)
    source = STREAM_SOURCE
    # The L2 mapping, not DynamoEventSource: that one grants its stream reads itself, ListStreams included;
    # infra/permissions.py grants the same, declared and tested with the rest.
    mapping = lambda_.EventSourceMapping(
        scope,
        "LifecycleEventsFromTableStream",
        target=function,
        event_source_arn=table.table_stream_arn,
        starting_position=lambda_.StartingPosition.TRIM_HORIZON,
        batch_size=source.batch_size,
        max_batching_window=Duration.seconds(source.batching_window_seconds),
        bisect_batch_on_error=source.bisect_on_error,
        retry_attempts=source.retry_attempts,
        max_record_age=Duration.seconds(source.max_record_age_seconds),
        report_batch_item_failures=True,
        on_failure=sources.SqsDlq(failures),
        filters=[lambda_.FilterCriteria.filter(dict(pattern)) for pattern in STREAM_FILTER_PATTERNS],
    )
    webhook = _webhook(scope, config, bus, config.webhook_url) if config.webhook_url else None
    return LifecycleEvents(bus=bus, mapping=mapping, failures=failures, webhook=webhook)


def _webhook(scope: Construct, config: StackConfig, bus: events.EventBus, url: str) -> Webhook:
    key = secretsmanager.Secret(
        scope,
        "WebhookKey",
        description=f"The key the lifecycle-events webhook sends in its {WEBHOOK_KEY_HEADER} header",
        generate_secret_string=secretsmanager.SecretStringGenerator(exclude_punctuation=True, password_length=48),
        removal_policy=config.removal_policy,
    )
    connection = events.Connection(
        scope,
        "WebhookConnection",
        description="Lifecycle-events webhook: an API key header (kept by EventBridge in Secrets Manager)",
        authorization=events.Authorization.api_key(WEBHOOK_KEY_HEADER, key.secret_value),
    )
    destination = events.ApiDestination(
        scope,
        "Webhook",
        description="Every lifecycle event, POSTed as its EventBridge envelope",
        connection=connection,
        endpoint=url,
        http_method=events.HttpMethod.POST,
    )
    failures = build_failure_queue(scope, "WebhookFailures", config)
    rule = events.Rule(
        scope,
        "WebhookRule",
        description="Delivers every lifecycle event to the webhook",
        event_bus=bus,
        event_pattern=events.EventPattern(source=[SOURCE]),
        targets=[
            targets.ApiDestination(destination, dead_letter_queue=failures, retry_attempts=WEBHOOK_RETRY_ATTEMPTS)
        ],
    )
    return Webhook(rule=rule, destination=destination, connection=connection, key=key, failures=failures)
