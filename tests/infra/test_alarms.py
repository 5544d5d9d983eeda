"""Operations as code: the alarm topic, the alarms on the handlers' fault answers and on fan-out failures (and
none on routine refusals), reserved concurrency, the sweep's dead-letter queue, the dashboard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aws_cdk as cdk
from aws_cdk.assertions import Template

from session_runtime import metric_names

from infra.alarms import build_alarm_topic
from infra.config import StackConfig
from infra.functions import FUNCTION_SPECS
from infra.nag import flatten
from tests.support.cfn_expr import get_att, ref
from tests.support.synth import PROD_ALARM_EMAIL

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"


def _alarms(synth) -> dict[str, dict]:
    return {k: v["Properties"] for k, v in synth.resources("AWS::CloudWatch::Alarm").items()}


def _on(synth, metric: str, **dimensions: str) -> list[dict]:
    wanted = [{"Name": k, "Value": v} for k, v in dimensions.items()]
    return [
        a
        for a in _alarms(synth).values()
        if a.get("MetricName") == metric and all(d in a.get("Dimensions", []) for d in wanted)
    ]


def test_the_stack_creates_its_alarm_topic_and_every_alarm_notifies_it(dev, prod):
    for synth in (dev, prod):
        (topic_id,) = synth.resources("AWS::SNS::Topic")
        alarms = _alarms(synth)
        assert len(alarms) >= 10
        for name, alarm in alarms.items():
            assert alarm["AlarmActions"] == [ref(topic_id)], name
    assert dev.resources("AWS::SNS::Subscription") == {}  # no -c alarmEmail
    (subscription,) = prod.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == PROD_ALARM_EMAIL


def test_an_existing_topic_is_used_instead_when_given():
    stack = cdk.Stack(cdk.App(), "T")
    arn = "arn:aws:sns:us-east-1:123456789012:ops"
    topic = build_alarm_topic(stack, StackConfig(stage="dev", alarm_topic_arn=arn, alarm_email="a@example.com"))
    assert topic.topic_arn == arn
    template = Template.from_stack(stack).to_json()
    assert "Resources" not in template or not template["Resources"]


def test_the_handlers_fault_answers_and_fanout_failures_alarm(dev):
    service = {"service": "live-sessions"}
    for code in metric_names.FAULT_CODES:  # HTTP: the Error metric of INTERNAL_ERROR / SERVICE_UNAVAILABLE answers
        (alarm,) = _on(dev, metric_names.ERROR, **service, **{metric_names.ERROR_CODE: code})
        assert alarm["Namespace"] == "LiveSessions" and alarm["Threshold"] == 1
    for metric in (metric_names.HANDLER_ERRORS, metric_names.FANOUT_FAILED, metric_names.NOTIFY_FAILED):
        (alarm,) = _on(dev, metric, **service)
        assert alarm["Namespace"] == "LiveSessions" and alarm["Statistic"] == "Sum"


def test_no_alarm_reads_a_routine_refusal(dev):
    refusals = {
        metric_names.JOIN_REFUSED,
        metric_names.ACTIONS_REFUSED,
        metric_names.RATE_LIMITED_ACTIONS,
        metric_names.SLOW_CONSUMER_CLOSED,
        "ConnectRefused",
        "IntegrationError",  # every refused $connect (404/410/429) is one to API Gateway
        "4xx",
        "ClientError",
    }
    for name, alarm in _alarms(dev).items():
        assert alarm.get("MetricName") not in refusals, name
        if alarm.get("MetricName") == metric_names.ERROR:
            codes = [d["Value"] for d in alarm["Dimensions"] if d["Name"] == metric_names.ERROR_CODE]
            assert codes and set(codes) <= set(metric_names.FAULT_CODES), name


def test_every_function_has_reserved_concurrency(dev):
    for name in FUNCTION_SPECS:
        function = dev.template["Resources"][dev.logical_id(dev.stack.functions[name])]["Properties"]
        assert isinstance(function.get("ReservedConcurrentExecutions"), int), name
        assert function["ReservedConcurrentExecutions"] >= 1


def test_a_failed_sweep_lands_in_its_dead_letter_queue_and_alarms(dev):
    queue_id = dev.logical_id(dev.stack.sweep.failures)
    queue = dev.template["Resources"][queue_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True and queue["MessageRetentionPeriod"] == 14 * 86400
    props = _invoke_config(dev, "SweepFunction")
    assert props["MaximumRetryAttempts"] == 0  # the next scheduled run is the retry
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == get_att(queue_id)
    _alarmed_and_ssl_only(dev, queue_id)


def test_a_fanout_shard_that_fails_is_retried_then_kept_in_its_dead_letter_queue_and_alarms(dev):
    queue_id = dev.logical_id(dev.stack.fanout_shard_failures)
    assert dev.template["Resources"][queue_id]["Properties"]["MessageRetentionPeriod"] == 14 * 86400
    props = _invoke_config(dev, "FanoutWorkerFunction")
    assert props["MaximumRetryAttempts"] == 2  # Lambda's retries of a shard that raised
    assert props["MaximumEventAgeInSeconds"] == 600
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == get_att(queue_id)
    _alarmed_and_ssl_only(dev, queue_id)


def _invoke_config(dev, function: str) -> dict:
    function_ref = ref(dev.logical_id(dev.stack.functions[function]))
    (props,) = [
        c["Properties"]
        for c in dev.resources("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == function_ref
    ]
    return props


def _alarmed_and_ssl_only(dev, queue_id: str) -> None:
    (alarm,) = [
        a
        for a in _on(dev, "ApproximateNumberOfMessagesVisible")
        if {"Name": "QueueName", "Value": get_att(queue_id, "QueueName")} in a["Dimensions"]
    ]
    assert alarm["Namespace"] == "AWS/SQS"
    # The queue refuses plain HTTP.
    (policy,) = [
        p
        for p in dev.resources("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [ref(queue_id)]
    ]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )


def test_the_dashboard_shows_connections_refusals_broadcasts_latency_and_errors(dev):
    (dashboard,) = dev.resources("AWS::CloudWatch::Dashboard").values()
    body = json.loads(flatten(dashboard["Properties"]["DashboardBody"]).replace("<", "").replace(">", ""))
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles == [
        "Connections (per 5 min)",
        "Joins refused, by reason",
        "Broadcasts and deliveries",
        "Broadcast fan-out latency (ms)",
        "Errors",
        "Refusals that are not faults",
    ]
    text = json.dumps(body)
    for metric in (
        metric_names.CONNECTED,
        metric_names.JOIN_REFUSED,
        metric_names.BROADCASTS,
        metric_names.BROADCAST_FANOUT_MS,
        metric_names.HANDLER_ERRORS,
        metric_names.FANOUT_FAILED,
    ):
        assert f'"{metric}"' in text, metric
    for reason in metric_names.JOIN_REFUSAL_REASONS:
        assert f'"{reason}"' in text, reason
    assert '"p99"' in text


def test_every_metric_the_stack_watches_is_one_a_handler_emits():
    source = "\n".join(p.read_text() for p in LAMBDAS.rglob("*.py") if p.name != "metric_names.py")
    constants = {k: v for k, v in vars(metric_names).items() if k.isupper() and isinstance(v, str)}
    for constant, value in constants.items():
        if constant in ("ERROR_CODE", "REASON"):  # dimension names, used with count_by
            assert f"metric_names.{constant}" in source or f'"{value}"' in source, constant
            continue
        emitted = re.search(rf'(name="{value}"|metric_names\.{constant}\b)', source)
        assert emitted, f"{constant} ({value}) is watched but no handler emits it"
