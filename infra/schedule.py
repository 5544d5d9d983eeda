"""EventBridge schedule that runs the speakerless-session sweep."""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import StackConfig


def build_sweep_schedule(scope: Construct, config: StackConfig, sweep: lambda_.IFunction) -> events.Rule:
    return events.Rule(
        scope,
        "SweepSchedule",
        description="Ends sessions that have had no speaker for SPEAKERLESS_TIMEOUT_SECONDS",
        schedule=events.Schedule.rate(config.sweep_interval),
        # the next run retries anyway: no backlog of stale sweeps after an outage
        targets=[targets.LambdaFunction(sweep, retry_attempts=0)],
    )
