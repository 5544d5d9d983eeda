"""Alarms and outputs an operator (and the e2e/emulator tooling) relies on."""

from __future__ import annotations

from infra.functions import FUNCTION_SPECS
from infra.nag import flatten
from tests.support.cfn_expr import ref

REQUIRED_OUTPUTS = {
    "HttpApiUrl",
    "WebSocketUrl",
    "WebSocketCallbackUrl",
    "UserPoolId",
    "UserPoolClientId",
    "TableName",
    "ArtifactsBucketName",
}


def _alarms(synth) -> list[dict]:
    return [a["Properties"] for a in synth.resources("AWS::CloudWatch::Alarm").values()]


def _alarm_on(synth, namespace: str, metric: str, dimension: tuple[str, object]) -> list[dict]:
    name, value = dimension
    return [
        alarm
        for alarm in _alarms(synth)
        if alarm.get("Namespace") == namespace
        and alarm.get("MetricName") == metric
        and {"Name": name, "Value": value} in alarm.get("Dimensions", [])
    ]


def test_every_function_has_error_and_throttle_alarms(dev):
    for name in FUNCTION_SPECS:
        function = ("FunctionName", ref(dev.logical_id(dev.stack.functions[name])))
        assert _alarm_on(dev, "AWS/Lambda", "Errors", function), f"{name}: no Errors alarm"
        assert _alarm_on(dev, "AWS/Lambda", "Throttles", function), f"{name}: no Throttles alarm"


def test_api_and_table_alarms(dev):
    assert _alarm_on(dev, "AWS/ApiGateway", "5xx", ("ApiId", ref(dev.logical_id(dev.stack.http.api))))
    ws_api = ("ApiId", ref(dev.logical_id(dev.stack.ws.api)))
    assert _alarm_on(dev, "AWS/ApiGateway", "ExecutionError", ws_api)
    # IntegrationError counts every refused $connect (404/410/429 from the function): routine, not alarmed.
    assert not _alarm_on(dev, "AWS/ApiGateway", "IntegrationError", ws_api)
    table = {"Name": "TableName", "Value": ref(dev.logical_id(dev.stack.table))}
    throttles = [
        alarm
        for alarm in _alarms(dev)
        if any(
            m.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "ThrottledRequests"
            and table in m["MetricStat"]["Metric"]["Dimensions"]
            for m in alarm.get("Metrics", [])
        )
    ]
    assert throttles, "no DynamoDB ThrottledRequests alarm"


def test_every_dead_letter_queue_is_watched_by_an_alarm(dev):
    """A record that lands in a dead-letter queue is work the system gave up on: someone must be told."""
    dead_letter_queues = {
        props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for props in (q["Properties"] for q in dev.resources("AWS::SQS::Queue").values())
        if "RedrivePolicy" in props
    }
    for props in dev.resources("AWS::Lambda::EventSourceMapping").values():
        target = props["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if isinstance(target, dict) and "Fn::GetAtt" in target:
            dead_letter_queues.add(target["Fn::GetAtt"][0])
    watched = {
        d["Value"]["Fn::GetAtt"][0]
        for alarm in _alarms(dev)
        if alarm.get("Namespace") == "AWS/SQS"
        for d in alarm.get("Dimensions", [])
        if d["Name"] == "QueueName" and isinstance(d["Value"], dict) and "Fn::GetAtt" in d["Value"]
    }
    assert dead_letter_queues, "no dead-letter queue found: the test reads the template wrong"
    assert dead_letter_queues <= watched, dead_letter_queues - watched


def test_outputs_for_clients_and_tooling(dev):
    outputs = dev.template["Outputs"]
    assert REQUIRED_OUTPUTS <= set(outputs)
    assert flatten(outputs["WebSocketUrl"]["Value"]).startswith("wss://")
    assert flatten(outputs["WebSocketCallbackUrl"]["Value"]).startswith("https://")
    assert flatten(outputs["HttpApiUrl"]["Value"]).startswith("https://")
    assert outputs["TableName"]["Value"] == ref(dev.logical_id(dev.stack.table))
    assert outputs["UserPoolClientId"]["Value"] == ref(dev.logical_id(dev.stack.auth.client))
