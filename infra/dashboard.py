"""The operator's CloudWatch dashboard: connections, joins refused by reason, broadcasts and their fan-out
latency, errors. Each figure is a metric the handlers emit (session_runtime/metric_names.py) or one AWS
publishes; the same `HandlerMetrics` the alarms use, so a graph and its alarm read the same series."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from session_runtime import metric_names

from infra.alarms import PERIOD, HandlerMetrics, ws_metric
from infra.config import StackConfig
from infra.http_api import HttpApiParts
from infra.websocket_api import WebSocketApiParts

WIDTH, HEIGHT = 12, 6


def _graph(title: str, left: list[cloudwatch.IMetric], **options: object) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=left, width=WIDTH, height=HEIGHT, **options)  # type: ignore[arg-type]


def build_dashboard(
    scope: Construct,
    config: StackConfig,
    *,
    handler_metrics: HandlerMetrics,
    functions: Mapping[str, lambda_.Function],
    http: HttpApiParts,
    ws: WebSocketApiParts,
) -> cloudwatch.Dashboard:
    m = handler_metrics
    dashboard = cloudwatch.Dashboard(scope, "Dashboard", dashboard_name=f"{config.stack_name}-operations")
    dashboard.add_widgets(
        _graph(
            "Connections (per 5 min)",
            [
                m.metric(metric_names.CONNECTED, label="connected"),
                m.metric(metric_names.DISCONNECTED, label="disconnected"),
                m.metric(metric_names.GHOST_CONNECTIONS, label="ghosts unregistered by the sweep"),
                m.metric(metric_names.SLOW_CONSUMER_CLOSED, label="slow consumers closed"),
            ],
        ),
        _graph(
            "Joins refused, by reason",
            [
                m.metric(metric_names.JOIN_REFUSED, label=reason, **{metric_names.REASON: reason})
                for reason in metric_names.JOIN_REFUSAL_REASONS
            ],
            stacked=True,
        ),
    )
    dashboard.add_widgets(
        _graph(
            "Broadcasts and deliveries",
            [
                m.metric(metric_names.BROADCASTS, label="broadcasts"),
                m.metric(metric_names.BROADCAST_DELIVERIES, label="deliveries"),
            ],
        ),
        _graph(
            "Broadcast fan-out latency (ms)",
            [
                m.metric(metric_names.BROADCAST_FANOUT_MS, statistic=stat, label=stat)
                for stat in (cloudwatch.Stats.p(50), cloudwatch.Stats.p(99), cloudwatch.Stats.MAXIMUM)
            ],
        ),
    )
    dashboard.add_widgets(
        _graph(
            "Errors",
            [
                *(m.http_error(code).with_(label=f"HTTP {code}") for code in metric_names.FAULT_CODES),
                m.metric(metric_names.HANDLER_ERRORS, label="WebSocket handler errors"),
                m.metric(metric_names.FANOUT_FAILED, label="fan-out posts failed"),
                m.metric(metric_names.NOTIFY_FAILED, label="state changes not told"),
                *(f.metric_errors(period=PERIOD, label=f"{name} Lambda errors") for name, f in functions.items()),
                ws_metric(ws, "ExecutionError"),
                http.api.metric_server_error(period=PERIOD, statistic=cloudwatch.Stats.SUM, label="HTTP API 5xx"),
            ],
        ),
        _graph(
            "Refusals that are not faults",
            [
                m.metric(metric_names.RATE_LIMITED_ACTIONS, label="frames over their connection's budget"),
                m.metric(metric_names.ACTIONS_REFUSED, label="actions refused"),
                m.metric(metric_names.LISTENER_COUNTS_REPAIRED, label="listener counts repaired"),
            ],
        ),
    )
    return dashboard
