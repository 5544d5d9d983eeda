"""EventBridge schedule that runs the sweep, and the dead-letter queue of a sweep that failed."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StackConfig
from infra.failure_queue import build_failure_queue


@dataclass(frozen=True)
class SweepSchedule:
    rule: events.Rule
    failures: sqs.Queue  # the on-failure destination of the sweep's async invocations


def build_sweep_schedule(scope: Construct, config: StackConfig, sweep: lambda_.Function) -> SweepSchedule:
    # EventBridge invokes the sweep asynchronously. A run that fails (an error, its 5 minute timeout) is not
    # retried by Lambda: the next scheduled run is the retry, with fresh data. Its invocation record goes to
    # this queue instead of vanishing, and an alarm (infra/alarms.py) says it is there.
    failures = build_failure_queue(scope, "SweepFailures", config)
    sweep.configure_async_invoke(
        on_failure=destinations.SqsDestination(failures),
        retry_attempts=0,
        max_event_age=config.sweep_interval,  # a run older than the next one is not worth starting
    )
    rule = events.Rule(
        scope,
        "SweepSchedule",
        description="Unregisters ghost connections, repairs seat counts, ends sessions left without a speaker",
        schedule=events.Schedule.rate(config.sweep_interval),
        # the next run retries anyway: no backlog of stale sweeps after an outage
        targets=[targets.LambdaFunction(sweep, retry_attempts=0)],
    )
    return SweepSchedule(rule, failures)
