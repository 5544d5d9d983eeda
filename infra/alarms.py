"""CloudWatch alarms: function errors and throttles, API 5xx / integration errors, table throttling."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import StackConfig
from infra.http_api import HttpApiParts
from infra.websocket_api import WebSocketApiParts

PERIOD = Duration.minutes(5)
# Every operation the functions perform (infra/permissions.py): a throttle on any of them is user-visible.
THROTTLE_OPERATIONS = (
    dynamodb.Operation.GET_ITEM,
    dynamodb.Operation.PUT_ITEM,
    dynamodb.Operation.UPDATE_ITEM,
    dynamodb.Operation.DELETE_ITEM,
    dynamodb.Operation.QUERY,
    dynamodb.Operation.TRANSACT_WRITE_ITEMS,
)


def _alarm(scope: Construct, construct_id: str, metric: cloudwatch.IMetric, description: str) -> cloudwatch.Alarm:
    return cloudwatch.Alarm(
        scope,
        construct_id,
        metric=metric,
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=description,
    )


def _ws_metric(ws: WebSocketApiParts, metric_name: str) -> cloudwatch.Metric:
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
    functions: Mapping[str, lambda_.Function],
    http: HttpApiParts,
    ws: WebSocketApiParts,
    table: dynamodb.Table,
) -> list[cloudwatch.Alarm]:
    alarms: list[cloudwatch.Alarm] = []
    for name, function in functions.items():
        alarms.append(
            _alarm(scope, f"{name}Errors", function.metric_errors(period=PERIOD), f"{name} invocations failed")
        )
        alarms.append(
            _alarm(scope, f"{name}Throttles", function.metric_throttles(period=PERIOD), f"{name} was throttled")
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
        _alarm(scope, "WebSocketIntegrationErrors", _ws_metric(ws, "IntegrationError"), "WebSocket integration errors")
    )
    alarms.append(
        _alarm(scope, "WebSocketExecutionErrors", _ws_metric(ws, "ExecutionError"), "WebSocket execution errors (5xx)")
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
    if config.alarm_topic_arn:
        topic = sns.Topic.from_topic_arn(scope, "AlarmTopic", config.alarm_topic_arn)
        for alarm in alarms:
            alarm.add_alarm_action(cw_actions.SnsAction(topic))
    return alarms
