"""The disconnect queue: API Gateway sends each `$disconnect` to SQS (an AWS service integration) instead of invoking
the connection function, and an event source mapping hands them to that function in batches.

Why: API Gateway invokes a `$disconnect` route's function once and drops it when Lambda throttles, so a leave storm
past the function's reserved concurrency (a keynote's end, a network blip) left seats counted until the sweep. A
message in SQS waits instead: the mapping retries a throttled batch, a failed record comes back after the visibility
timeout, and only a record that keeps failing reaches the dead-letter queue (its alarm: infra/alarms.py).

- the route: integration type AWS, `POST` to SQS's query API (`arn:aws:apigateway:<region>:sqs:path/<account>/
  <queue>`), form-encoded, with the request template declared with the message (session_schema/disconnect_message.py);
  API Gateway signs it with a role allowed `sqs:SendMessage` on this queue only;
- the queue: SQS-managed encryption, TLS only, its visibility timeout six times the function's timeout (AWS's advice:
  room for the mapping to retry a throttled batch), a dead-letter queue after the declared receives;
- the mapping: the connection function's declared `queue_source` (batch size, window, MaximumConcurrency at or below
  its reserved concurrency), ReportBatchItemFailures; it receives with the function's role (infra/permissions.py
  EVENT_SOURCE_ACTIONS), the L2 mapping rather than SqsEventSource, whose grant is broader.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from session_schema.disconnect_message import request_template
from session_schema.functions import FUNCTIONS_BY_NAME

from infra.config import StackConfig
from infra.consumed_queue import Consumption, build_consumed_queue

SEND_MESSAGE = "sqs:SendMessage"  # the integration role's one action


@dataclass(frozen=True)
class DisconnectQueue:
    queue: sqs.Queue
    failures: sqs.Queue
    mapping: lambda_.EventSourceMapping
    role: iam.Role  # what API Gateway sends with
    integration: integrations.WebSocketAwsIntegration  # the `$disconnect` route's


def build_disconnect_queue(scope: Construct, config: StackConfig, consumer: lambda_.Function) -> DisconnectQueue:
    declared = FUNCTIONS_BY_NAME[consumer.node.id]
    source = declared.queue_source
    if source is None:
        raise ValueError(f"{consumer.node.id} declares no queue_source (session_schema/functions.py)")
    consumed = build_consumed_queue(
        scope,
        config,
        "Disconnect",
        "DisconnectsToConnectionFunction",
        consumer,
        visibility_timeout=Duration.seconds(declared.timeout_seconds * source.visibility_timeout_factor),
        max_receive_count=source.max_receive_count,
        consumption=Consumption(
            batch_size=source.batch_size,
            max_batching_window=Duration.seconds(source.batching_window_seconds),
            max_concurrency=source.maximum_concurrency,
            report_batch_item_failures=True,
        ),
    )
    queue = consumed.queue
    role = iam.Role(
        scope,
        "DisconnectIntegrationRole",
        assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
        description="API Gateway sends the WebSocket API's $disconnect to the disconnect queue",
    )
    role.add_to_policy(iam.PolicyStatement(actions=[SEND_MESSAGE], resources=[queue.queue_arn], sid="SendDisconnects"))
    stack = Stack.of(scope)
    integration = integrations.WebSocketAwsIntegration(
        "DisconnectIntegration",
        integration_method="POST",
        integration_uri=f"arn:{stack.partition}:apigateway:{stack.region}:sqs:path/{stack.account}/{queue.queue_name}",
        credentials_role=role,
        request_parameters={"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
        request_templates={"$default": request_template()},
        template_selection_expression="\\$default",
        passthrough_behavior=apigwv2.PassthroughBehavior.NEVER,
    )
    return DisconnectQueue(
        queue=queue, failures=consumed.failures, mapping=consumed.mapping, role=role, integration=integration
    )
