"""The alarm topic and the alarms: faults an operator must hear about, and none that routine refusals trip.

Topic: the stack creates its own SNS topic (optionally with an e-mail subscription, `-c alarmEmail=...`);
`-c alarmTopicArn=...` uses an existing topic instead. Every alarm notifies it.

What alarms:
- each function's Lambda `Errors` and `Throttles`;
- the handlers' own fault answers, which Lambda `Errors` never sees (the function answered): the HTTP
  API's `Error` metric with ErrorCode INTERNAL_ERROR or SERVICE_UNAVAILABLE, the WebSocket function's
  `HandlerErrors` (an action that crashed answers 200 with an INTERNAL_ERROR body);
- fan-out failures: posts that failed other than 410 past their retries (`FanoutFailed`, a few in a period:
  one slow client's strikes are routine), and a state change whose fan-out failed as a whole (`NotifyFailed`);
- the HTTP API's 5xx, the WebSocket API's ExecutionError, DynamoDB throttling;
- a sweep that failed (its invocation record in the sweep's dead-letter queue, infra/schedule.py), and a
  fan-out shard that failed past Lambda's retries (in the worker's dead-letter queue, infra/fanout_worker.py),
  and a shard the worker could not be invoked for (`FanoutDispatchFailed`);
- a `$disconnect` whose leave kept failing (in the disconnect queue's dead-letter queue, infra/disconnect_queue.py),
  and a message on that queue that is not a `$disconnect`'s (`BadDisconnectMessages`).
What does not: refusals. No alarm reads 4xx or the WebSocket `IntegrationError` (which counts every refused
`$connect`: 404 SESSION_NOT_FOUND, 410 SESSION_ENDED, 429 SESSION_FULL are integration "errors" to API
Gateway), `JoinRefused`, `ActionsRefused`, `RateLimitedActions` or HTTP `Error` with any other code.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from session_runtime import metric_names

from infra.config import StackConfig
from infra.http_api import HttpApiParts
from infra.lifecycle_events import LifecycleEvents
from infra.websocket_api import WebSocketApiParts

PERIOD = Duration.minutes(5)
FANOUT_FAILURES_THRESHOLD = 10  # per period: a client that stops reading costs FANOUT_STRIKES_TO_CLOSE (3)
# Every operation the functions perform (infra/permissions.py): a throttle on any of them is user-visible.
THROTTLE_OPERATIONS = (
    dynamodb.Operation.GET_ITEM,
    dynamodb.Operation.PUT_ITEM,
    dynamodb.Operation.UPDATE_ITEM,
    dynamodb.Operation.DELETE_ITEM,
    dynamodb.Operation.QUERY,
    dynamodb.Operation.TRANSACT_WRITE_ITEMS,
)


def build_alarm_topic(scope: Construct, config: StackConfig) -> sns.ITopic:
    if config.alarm_topic_arn:
        return sns.Topic.from_topic_arn(scope, "AlarmTopic", config.alarm_topic_arn)
    topic = sns.Topic(scope, "AlarmTopic", display_name=f"Live sessions alarms ({config.stage})", enforce_ssl=True)
    if config.alarm_email:
        topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
    return topic


class HandlerMetrics:
    """The handlers' own metrics (session_runtime/metric_names.py) as CloudWatch metrics."""

    def __init__(self, namespace: str, service: str) -> None:
        self.namespace, self.service = namespace, service

    def metric(
        self, name: str, *, statistic: str = cloudwatch.Stats.SUM, label: str | None = None, **dimensions: str
    ) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=self.namespace,
            metric_name=name,
            dimensions_map={"service": self.service, **dimensions},
            statistic=statistic,
            period=PERIOD,
            label=label,
        )

    def http_error(self, code: str) -> cloudwatch.Metric:
        # No label: a labelled metric makes the alarm a metric-math one (`Metrics`), which the emulator refuses.
        return self.metric(metric_names.ERROR, **{metric_names.ERROR_CODE: code})


def _alarm(
    scope: Construct, construct_id: str, metric: cloudwatch.IMetric, description: str, threshold: int = 1
) -> cloudwatch.Alarm:
    return cloudwatch.Alarm(
        scope,
        construct_id,
        metric=metric,
        threshold=threshold,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=description,
    )


def ws_metric(ws: WebSocketApiParts, metric_name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/ApiGateway",
        metric_name=metric_name,
        dimensions_map={"ApiId": ws.api.api_id, "Stage": ws.stage.stage_name},
        statistic=cloudwatch.Stats.SUM,
        period=PERIOD,
    )


def build_alarms(
    scope: Construct,
    config: StackConfig,
    *,
    topic: sns.ITopic,
    handler_metrics: HandlerMetrics,
    functions: Mapping[str, lambda_.Function],
    http: HttpApiParts,
    ws: WebSocketApiParts,
    table: dynamodb.Table,
    sweep_failures: sqs.IQueue,
    fanout_shard_failures: sqs.IQueue,
    lifecycle: LifecycleEvents,
    upload_failures: sqs.IQueue,
    notice_failures: sqs.IQueue,
    disconnect_failures: sqs.IQueue,
) -> list[cloudwatch.Alarm]:
    alarms: list[cloudwatch.Alarm] = []
    for name, function in functions.items():
        alarms.append(
            _alarm(scope, f"{name}Errors", function.metric_errors(period=PERIOD), f"{name} invocations failed")
        )
        alarms.append(
            _alarm(scope, f"{name}Throttles", function.metric_throttles(period=PERIOD), f"{name} was throttled")
        )
    for code in metric_names.FAULT_CODES:
        alarms.append(
            _alarm(
                scope,
                f"HttpAnswered{code.title().replace('_', '')}",
                handler_metrics.http_error(code),
                f"the HTTP function answered {code} (the handler's own fault answer; Lambda Errors stays 0)",
            )
        )
    alarms.append(
        _alarm(
            scope,
            "WebSocketHandlerErrors",
            handler_metrics.metric(metric_names.HANDLER_ERRORS),
            "the WebSocket function answered INTERNAL_ERROR or SERVICE_UNAVAILABLE (200 with an error body, or a "
            "5xx handshake), or a $disconnect failed",
        )
    )
    alarms.append(
        _alarm(
            scope,
            "FanoutFailures",
            handler_metrics.metric(metric_names.FANOUT_FAILED),
            f"{FANOUT_FAILURES_THRESHOLD}+ posts to connections failed (not 410) past their retries in 5 minutes",
            threshold=FANOUT_FAILURES_THRESHOLD,
        )
    )
    alarms.append(
        _alarm(
            scope,
            "FanoutDispatchFailures",
            handler_metrics.metric(metric_names.FANOUT_DISPATCH_FAILED),
            "a large fan-out could not invoke the fan-out worker for a shard (the caller served it, more slowly)",
        )
    )
    alarms.append(
        _alarm(
            scope,
            "NotifyFailures",
            handler_metrics.metric(metric_names.NOTIFY_FAILED),
            "a state change (pause, end, message, artifact) could not be told to its connections",
        )
    )
    alarms.append(
        _alarm(
            scope,
            "HttpApi5xx",
            http.api.metric_server_error(period=PERIOD, statistic=cloudwatch.Stats.SUM),
            "HTTP API answered 5xx",
        )
    )
    alarms.append(
        _alarm(scope, "WebSocketExecutionErrors", ws_metric(ws, "ExecutionError"), "WebSocket execution errors (5xx)")
    )
    alarms.append(
        _alarm(
            scope,
            "SweepFailed",
            sweep_failures.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
            "a scheduled sweep failed: its invocation record is in the sweep's dead-letter queue",
        )
    )
    alarms.append(
        _alarm(
            scope,
            "FanoutShardFailed",
            fanout_shard_failures.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
            "a fan-out shard failed past Lambda's retries: its record (event and error) is in its dead-letter queue",
        )
    )
    alarms += _lifecycle_alarms(scope, lifecycle)
    alarms.append(
        _alarm(
            scope,
            "UploadNotificationFailed",
            upload_failures.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
            "an upload notification failed past Lambda's retries: its artifact stays pending; the record is in the"
            " dead-letter queue",
        )
    )
    alarms.append(
        _alarm(
            scope,
            "NoticeDeliveryFailed",
            notice_failures.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
            "a trailing presence or reactions notice failed past its receives (its slot schedules another at the"
            " next change; repeated, the notice path is broken)",
        )
    )
    alarms.append(
        _alarm(
            scope,
            "DisconnectDeliveryFailed",
            disconnect_failures.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM
            ),
            "a $disconnect's leave kept failing past the disconnect queue's receives: its seat stays counted until the"
            " sweep frees it; the message is in the dead-letter queue",
        )
    )
    alarms.append(
        _alarm(
            scope,
            "BadDisconnectMessages",
            handler_metrics.metric(metric_names.BAD_DISCONNECT_MESSAGES),
            "the disconnect queue held a message that is not a $disconnect's (dropped): the route's request template"
            " and session_schema/disconnect_message.py disagree",
        )
    )
    if not config.is_emulated:
        # Emulated: left out. It is a metric-math alarm (one sum over the operations), and the emulator's
        # CloudFormation refuses `Properties.Metrics`, failing the whole deploy (infra/emulator.py).
        alarms.append(
            _alarm(
                scope,
                "TableThrottledRequests",
                table.metric_throttled_requests_for_operations(operations=list(THROTTLE_OPERATIONS), period=PERIOD),
                "DynamoDB throttled requests",
            )
        )
    for alarm in alarms:
        alarm.add_alarm_action(cw_actions.SnsAction(topic))
    return alarms


# A failed batch's dead-letter record holds pointers into the table's stream, which keeps records 24 hours;
# the mapping gives up on a batch within an hour of its records' writing (StreamSource.max_record_age_seconds).
# Past this age the redrive still has about half a day: the alarm says so while it can still be done.
REDRIVE_DEADLINE_ALARM_AGE = Duration.hours(12)


def _lifecycle_alarms(scope: Construct, lifecycle: LifecycleEvents) -> list[cloudwatch.Alarm]:
    failures = lifecycle.failures
    alarms = [
        _alarm(
            scope,
            "LifecycleEventsFailed",
            failures.metric_approximate_number_of_messages_visible(period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM),
            "the lifecycle events function gave up on a stream batch: its pointers are in the dead-letter queue"
            " (python -m lifecycle_events.redrive reads them back while the stream keeps them, 24 hours)",
        ),
        _alarm(
            scope,
            "LifecycleEventsRedriveDeadline",
            failures.metric_approximate_age_of_oldest_message(period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM),
            "a failed stream batch has waited 12 hours: redrive it now, its records leave the stream at 24 hours",
            threshold=int(REDRIVE_DEADLINE_ALARM_AGE.to_seconds()),
        ),
    ]
    if lifecycle.webhook is not None:
        alarms.append(
            _alarm(
                scope,
                "WebhookDeliveriesFailed",
                lifecycle.webhook.failures.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM
                ),
                "a lifecycle event could not be delivered to the webhook past EventBridge's retries",
            )
        )
    return alarms
