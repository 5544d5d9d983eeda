"""Lifecycle events in the template: the table's stream, the event source mapping (batching, bisect, bounded
retries, dead-letter queue, filters), the bus and the function's grants on it, the alarms, and the webhook's
rule, API destination, connection and key only with `-c webhookUrl=...`."""

from __future__ import annotations

import json

import pytest

from session_schema.functions import FUNCTIONS_BY_NAME, LIFECYCLE_EVENTS_FUNCTION
from session_schema.lifecycle import SOURCE, STREAM_FILTER_PATTERNS

from infra.nag import flatten
from tests.support.cfn_expr import as_list, get_att, ref
from tests.support.synth import Synth, synth, violations

WEBHOOK_URL = "https://hooks.example.com/live-sessions"
DECLARED = FUNCTIONS_BY_NAME[LIFECYCLE_EVENTS_FUNCTION].stream_source


@pytest.fixture(scope="module")
def webhook(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synth(tmp_path_factory.mktemp("cdk-webhook"), webhookUrl=WEBHOOK_URL)


def _mapping(synth: Synth) -> dict:
    """The table stream's mapping (the notice queue has one too: infra/notices.py)."""
    mappings = synth.resources("AWS::Lambda::EventSourceMapping")
    (mapping,) = [m for key, m in mappings.items() if key == synth.logical_id(synth.stack.lifecycle.mapping)]
    return mapping["Properties"]


def test_the_table_streams_new_and_old_images(dev):
    table = dev.template["Resources"][dev.logical_id(dev.stack.table)]["Properties"]
    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_the_mapping_reads_the_stream_into_the_events_function_as_declared(dev):
    assert DECLARED is not None
    props = _mapping(dev)
    assert props["EventSourceArn"] == get_att(dev.logical_id(dev.stack.table), "StreamArn")
    assert props["FunctionName"] == ref(dev.logical_id(dev.stack.functions[LIFECYCLE_EVENTS_FUNCTION]))
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert props["BatchSize"] == DECLARED.batch_size
    assert props["MaximumBatchingWindowInSeconds"] == DECLARED.batching_window_seconds
    assert props["BisectBatchOnFunctionError"] is True
    assert props["MaximumRetryAttempts"] == DECLARED.retry_attempts <= 10, "retries are bounded"
    assert props["MaximumRecordAgeInSeconds"] == DECLARED.max_record_age_seconds < 24 * 3600
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = get_att(dev.logical_id(dev.stack.lifecycle.failures), "Arn")
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": queue}}


def test_the_mapping_filters_out_every_item_that_announces_nothing(dev):
    patterns = [json.loads(f["Pattern"]) for f in _mapping(dev)["FilterCriteria"]["Filters"]]
    assert patterns == [dict(p) for p in STREAM_FILTER_PATTERNS]
    # What reaches the function: session items and artifacts, never a stream event, a message or a connection
    # (tests/local/test_stream_poller.py runs these patterns on records of each kind;
    # tests/lifecycle/test_stream_filter_writes.py on the store's real writes).
    text = json.dumps(patterns)
    assert '"SESSION#"' in text and '"ART#"' in text and "EVT#" not in text and "MSG#" not in text


def test_the_function_puts_on_the_stacks_bus_and_reads_only_its_tables_stream(dev):
    bus = dev.logical_id(dev.stack.lifecycle.bus)
    function = dev.stack.functions[LIFECYCLE_EVENTS_FUNCTION]
    variables = dev.template["Resources"][dev.logical_id(function)]["Properties"]["Environment"]["Variables"]
    assert variables["EVENT_BUS_NAME"] == ref(bus)
    role = ref(dev.logical_id(function.role))
    statements = [
        s
        for policy in dev.resources("AWS::IAM::Policy").values()
        if role in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    granted = {(a, flatten(r)) for s in statements for a in as_list(s["Action"]) for r in as_list(s["Resource"])}
    stream = f"<{dev.logical_id(dev.stack.table)}.StreamArn>"
    assert {r for a, r in granted if a == "events:PutEvents"} == {f"<{bus}.Arn>"}
    for action in ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"):
        assert {r for a, r in granted if a == action} == {stream}, action
    assert {r for a, r in granted if a == "dynamodb:ListStreams"} == {"*"}  # no resource-level permission
    assert not {a for a, _ in granted if a in ("dynamodb:Query", "dynamodb:PutItem", "dynamodb:DeleteItem")}
    # Its table reads and its one write (a keynote session's occupancy item) only under conditions: the statements
    # themselves are checked in test_functions.py (OCCUPANCY_CONDITIONS).
    table_actions = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:UpdateItem"}
    assert all("Condition" in s for s in statements if set(as_list(s["Action"])) & table_actions)


def test_failed_batches_alarm_at_once_and_again_before_the_stream_forgets_them(dev):
    queue = dev.logical_id(dev.stack.lifecycle.failures)
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"]
        for a in dev.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Dimensions") == [{"Name": "QueueName", "Value": get_att(queue, "QueueName")}]
    }
    assert alarms["ApproximateNumberOfMessagesVisible"]["Threshold"] == 1
    assert 3600 < alarms["ApproximateAgeOfOldestMessage"]["Threshold"] <= 18 * 3600


def test_no_webhook_without_its_url(dev):
    assert dev.stack.lifecycle.webhook is None
    for resource_type in ("AWS::Events::ApiDestination", "AWS::Events::Connection"):
        assert dev.resources(resource_type) == {}, resource_type
    assert not [name for name in dev.resources("AWS::SecretsManager::Secret") if name.startswith("WebhookKey")]
    assert [r for r in dev.resources("AWS::Events::Rule").values() if "EventPattern" in r["Properties"]] == []


def test_the_webhook_delivers_every_event_of_the_bus_with_its_key_kept_in_secrets_manager(webhook):
    parts = webhook.stack.lifecycle.webhook
    assert parts is not None
    rules = webhook.resources("AWS::Events::Rule").values()
    (rule,) = [r["Properties"] for r in rules if "EventPattern" in r["Properties"]]
    assert rule["EventBusName"] == ref(webhook.logical_id(webhook.stack.lifecycle.bus))
    assert rule["EventPattern"] == {"source": [SOURCE]}
    (target,) = rule["Targets"]
    ((destination_id, destination),) = webhook.resources("AWS::Events::ApiDestination").items()
    assert target["Arn"] == get_att(destination_id, "Arn")
    assert target["DeadLetterConfig"] == {"Arn": get_att(webhook.logical_id(parts.failures), "Arn")}
    assert destination["Properties"]["InvocationEndpoint"] == WEBHOOK_URL
    assert destination["Properties"]["HttpMethod"] == "POST"
    (connection,) = webhook.resources("AWS::Events::Connection").values()
    api_key = connection["Properties"]["AuthParameters"]["ApiKeyAuthParameters"]
    assert api_key["ApiKeyName"] == "X-Webhook-Key"
    secret = webhook.logical_id(parts.key)
    assert f"{{{{resolve:secretsmanager:<{secret}>:SecretString:::}}}}" == flatten(api_key["ApiKeyValue"])


def test_the_webhook_stack_is_nag_clean(webhook):
    assert violations(webhook) == []


@pytest.mark.slow
def test_the_webhook_stack_is_cfn_lint_clean(webhook):
    """The resources only `webhookUrl` adds (rule, API destination, connection, key) are linted too."""
    from tests.infra.test_lint import lint_findings

    assert lint_findings(webhook.template_path) == []


def test_a_webhook_url_must_be_https():
    from aws_cdk import App

    from infra.config import load_config

    with pytest.raises(ValueError, match="webhookUrl"):
        load_config(App(context={"webhookUrl": "http://hooks.example.com/x"}).node)
    assert load_config(App(context={"webhookUrl": WEBHOOK_URL}).node).webhook_url == WEBHOOK_URL
