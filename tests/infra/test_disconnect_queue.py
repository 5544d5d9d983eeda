"""`$disconnect` goes to SQS, never to a Lambda invocation API Gateway would drop when throttled: the route's AWS
integration (its template built from the message's one declaration), the role it sends with (one action, one
queue), the queue with its dead-letter queue and alarm, and the mapping that hands the messages to the connection
function without being throttled by it."""

from __future__ import annotations

from session_schema.disconnect_message import DISCONNECT_MESSAGE_FIELDS, request_template
from session_schema.functions import CONNECTION_FUNCTION, FUNCTIONS_BY_NAME

from infra.nag import flatten
from tests.infra.test_apis import _integration_target, _routes_of
from tests.support.cfn_expr import get_att, ref

DECLARED = FUNCTIONS_BY_NAME[CONNECTION_FUNCTION]


def _props(synth, construct) -> dict:
    return synth.template["Resources"][synth.logical_id(construct)]["Properties"]


def test_the_disconnect_route_sends_the_declared_message_to_the_queue(dev):
    integration = _integration_target(dev, _routes_of(dev, dev.stack.ws.api)["$disconnect"])
    queue = dev.logical_id(dev.stack.disconnects.queue)
    assert integration["IntegrationType"] == "AWS"
    assert integration["IntegrationMethod"] == "POST"
    uri = flatten(integration["IntegrationUri"])
    assert uri.startswith("arn:<AWS::Partition>:apigateway:<AWS::Region>:sqs:path/<AWS::AccountId>/"), uri
    assert uri.endswith(f"<{queue}.QueueName>"), uri
    assert integration["CredentialsArn"] == get_att(dev.logical_id(dev.stack.disconnects.role))
    assert integration["RequestParameters"] == {
        "integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"
    }
    assert integration["TemplateSelectionExpression"] == "\\$default"
    assert integration["RequestTemplates"] == {"$default": request_template()}
    assert integration["PassthroughBehavior"] == "NEVER"


def test_the_request_template_carries_each_declared_field_from_its_context_variable():
    template = request_template()
    assert template.splitlines()[-1] == "Action=SendMessage&MessageBody=$util.urlEncode($body)"
    for field in DISCONNECT_MESSAGE_FIELDS:
        value = f"$context.{field.context_variable}"
        encoded = f"$util.urlEncode({value})" if field.url_encoded else value
        assert f"${{q}}{field.name}${{q}}:${{q}}{encoded}${{q}}" in template, field
    # the client's close reason is the one value it chooses: percent-encoded, so it cannot close its JSON string
    assert [field.name for field in DISCONNECT_MESSAGE_FIELDS if field.url_encoded] == ["disconnectReason"]


def test_api_gateway_sends_with_a_role_allowed_only_to_send_to_the_disconnect_queue(dev):
    role = dev.logical_id(dev.stack.disconnects.role)
    trust = dev.template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "apigateway.amazonaws.com"}]
    statements = [
        statement
        for policy in dev.resources("AWS::IAM::Policy").values()
        if ref(role) in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    queue = get_att(dev.logical_id(dev.stack.disconnects.queue))
    assert [(s["Effect"], s["Action"], s["Resource"]) for s in statements] == [("Allow", "sqs:SendMessage", queue)]
    assert "ManagedPolicyArns" not in dev.template["Resources"][role]["Properties"]


def test_the_queue_is_encrypted_retries_generously_and_keeps_what_keeps_failing(dev):
    props = _props(dev, dev.stack.disconnects.queue)
    source = DECLARED.queue_source
    assert source is not None
    assert props["SqsManagedSseEnabled"] is True
    # AWS's advice: six times the function's timeout, room for the mapping to retry a throttled batch
    assert props["VisibilityTimeout"] == DECLARED.timeout_seconds * 6
    failures = dev.logical_id(dev.stack.disconnects.failures)
    assert props["RedrivePolicy"] == {"deadLetterTargetArn": get_att(failures), "maxReceiveCount": 20}
    assert _props(dev, dev.stack.disconnects.failures)["SqsManagedSseEnabled"] is True
    alarms = [
        a["Properties"]
        for a in dev.resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Dimensions") == [{"Name": "QueueName", "Value": get_att(failures, "QueueName")}]
    ]
    assert [(a["MetricName"], a["Threshold"]) for a in alarms] == [("ApproximateNumberOfMessagesVisible", 1)]


def test_the_mapping_hands_batches_to_the_connection_function_never_past_its_reserved_concurrency(dev):
    (mapping,) = [
        m["Properties"]
        for m in dev.resources("AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == get_att(dev.logical_id(dev.stack.disconnects.queue))
    ]
    source = DECLARED.queue_source
    assert source is not None
    assert mapping["FunctionName"] == ref(dev.logical_id(dev.stack.functions[CONNECTION_FUNCTION]))
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == source.batch_size
    assert mapping["MaximumBatchingWindowInSeconds"] == source.batching_window_seconds
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": source.maximum_concurrency}
    assert 2 <= source.maximum_concurrency <= DECLARED.reserved_concurrency


def test_the_connection_function_receives_from_the_disconnect_queue_only(dev):
    queue = get_att(dev.logical_id(dev.stack.disconnects.queue))
    readers = {
        role["Ref"]
        for policy in dev.resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Resource"] == queue and "sqs:ReceiveMessage" in statement["Action"]
        for role in policy["Properties"]["Roles"]
    }
    function = dev.template["Resources"][dev.logical_id(dev.stack.functions[CONNECTION_FUNCTION])]
    assert readers == {function["Properties"]["Role"]["Fn::GetAtt"][0]}
