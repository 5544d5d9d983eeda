"""cdk-nag (AwsSolutions) acknowledgments: each one narrow (one construct, one finding) with its reason.

cdk-nag 3.x has no `NagSuppressions`: findings are acknowledged with CDK's own
`Validations.of(construct).acknowledge(Acknowledgment(id=..., reason=...))`, the id namespaced by the
pack, and a granular finding (IAM4/IAM5) is named `RuleId[Finding]`, e.g.
`AwsSolutions::AwsSolutions-IAM5[Resource::*]`. Every reason lives in `REASONS`
(the infra tests check that each is a real sentence, and that nothing is left unacknowledged).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

from session_schema.routes import HTTP_ROUTES, WS_ROUTES

from infra.permissions import (
    CONNECTION_METHODS,
    EVENT_SOURCE_ACTIONS,
    FUNCTION_ACTIONS,
    artifact_resources,
    connection_resources,
    table_resources,
)

if TYPE_CHECKING:
    from infra.stack import LiveSessionsStack

PACK = "AwsSolutions"

REASONS: dict[str, str] = {
    "IAM5-xray": (
        "X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions, so active "
        "tracing (added by the Lambda L2) needs Resource '*'; no other action is granted on '*'."
    ),
    "IAM5-table-indexes": (
        "`<table ARN>/index/*` names exactly this table's GSIs (GSI1: a user's sessions, GSI2: the sweep's "
        "speakerless index); the actions are the per-function list in infra/permissions.py."
    ),
    "IAM5-artifact-objects": (
        "Artifact object keys (<ownerId>/<sessionId>/<kind>/...) are created at runtime, so the statement "
        "names `<bucket ARN>/*`: objects of this one bucket only; PutObject (presigned uploads), DeleteObject and "
        "GetObject (shared downloads, the upload check's ranged read), per function in infra/permissions.py."
    ),
    "IAM5-connections": (
        "WebSocket connection IDs are assigned by API Gateway at runtime, so `@connections/*` is the narrowest "
        "ARN; it is scoped to this API, this stage and one HTTP method, action ManageConnections only."
    ),
    "IAM5-xray-list-streams": (
        "X-Ray PutTraceSegments/PutTelemetryRecords and DynamoDB ListStreams have no resource-level permissions, "
        "so they need Resource '*'; ListStreams is one of the stream actions Lambda checks the role for when it "
        "creates the event source mapping (the stream reads name this table's stream only)."
    ),
    "IAM5-publish-route": (
        "Session IDs are chosen at runtime, so the producers' publish route is granted as "
        "`<api>/$default/POST/iam/sessions/*/broadcasts`: execute-api:Invoke on that one route of this API only."
    ),
    "L1": (
        "Pinned to python3.12 on purpose: the dependency layer is built for cp312/aarch64 (Makefile "
        "LAYER_TARGET) and the Powertools layer is its python312 build; the three move together."
    ),
    "APIG4-http-public": (
        "Public by the product contract (auth=False in session_schema.routes.HTTP_ROUTES): anyone may read a "
        "session's public view/messages, health and the OpenAPI document; the handler still verifies an "
        "optional bearer token itself."
    ),
    "APIG4-http-signed-in": (
        "Signed-in route with no gateway authorizer on purpose: the function verifies every bearer token "
        "itself (RS256 signature against the Cognito pool's JWKS, iss, aud/client_id, exp, token_use; "
        "session_runtime/auth.py, tested by tests/http/test_attacks.py) and refuses with the contract's "
        "401 UNAUTHORIZED. "
        "API Gateway's JWT authorizer was dropped because its fixed 401 body breaks the contract's error shape."
    ),
    "APIG4-ws-connect": (
        "Listeners join anonymously by the product contract; $connect's handler verifies the optional "
        "?token= JWT itself and admits a connection only to an existing, joinable, non-full session."
    ),
    "APIG4-ws-route": (
        "API Gateway supports authorizers on $connect only; frames on this route arrive on a connection "
        "that $connect already admitted, and the handler enforces the connection's role per action."
    ),
    "IAM4-apigw-logs": (
        "AmazonAPIGatewayPushToCloudWatchLogs is the AWS-documented policy for the account-level API "
        "Gateway logging role (required for WebSocket stage logs); it only writes CloudWatch Logs."
    ),
    "IAM4-bucket-notifications": (
        "CDK's own BucketNotificationsHandler (a singleton custom resource that sets the artifacts bucket's event "
        "notification at deploy time) uses AWSLambdaBasicExecutionRole, which only writes CloudWatch Logs; "
        "CloudFormation cannot set a notification to a function that reads the bucket's name without it."
    ),
    "IAM5-bucket-notifications": (
        "The BucketNotificationsHandler's s3:PutBucketNotification grant is CDK's own, attached at deploy time by "
        "its custom resource; it runs only during deployments and only sets notifications."
    ),
    "COG2": (
        "MFA is OPTIONAL with TOTP available; requiring it for every speaker is an onboarding decision "
        "left to the operator (set mfa=Mfa.REQUIRED in infra/auth.py)."
    ),
    "COG8": (
        "Plus tier (threat protection) is billed per MAU; the pool only holds operator-provisioned speakers "
        "(self sign-up off, strong password policy), so the Essentials tier is the default."
    ),
    "SMG4-cursor-key": (
        "The cursor secret only seals pagination cursors (infra/cursor_key.py): a rotation would just refuse the "
        "cursors in flight with a 400 (the client lists again from the start), so it is left to the operator "
        "(aws secretsmanager put-secret-value, or a rotation schedule) instead of a rotation Lambda in the stack."
    ),
    "SQS3": (
        "This queue is itself the dead-letter queue (the sweep's async on-failure destination); a queue behind "
        "it would only move the same records once more, and the SweepFailed alarm watches this one."
    ),
    "SQS3-lifecycle": (
        "This queue is itself the dead-letter queue (the lifecycle event source mapping's on-failure destination: "
        "pointers into the stream); the LifecycleEventsFailed and LifecycleEventsRedriveDeadline alarms watch it."
    ),
    "SQS3-webhook": (
        "This queue is itself the dead-letter queue of the webhook rule's target (events EventBridge could not "
        "deliver past its retries); a queue behind it would only move them again, the WebhookDeliveriesFailed "
        "alarm watches this one."
    ),
    "SMG4-webhook": (
        "The webhook key is shared with a receiver outside the stack, which must change its check at the same "
        "moment: a rotation is a coordinated change (put a new value, then update the receiver), not a schedule."
    ),
    "SQS3-fanout": (
        "This queue is itself the dead-letter queue (the fan-out worker's async on-failure destination); a queue "
        "behind it would only move the same records once more, and the FanoutShardFailed alarm watches this one."
    ),
    "SQS3-uploads": (
        "This queue is itself the dead-letter queue (the upload function's async on-failure destination); a queue "
        "behind it would only move the same records once more, and the UploadNotificationFailed alarm watches it."
    ),
}


def rule_id(rule: str, finding: str | None = None) -> str:
    """`AwsSolutions::AwsSolutions-IAM5[Resource::*]`: the id the validation report asks to acknowledge."""
    return f"{PACK}::{PACK}-{rule}" + (f"[{finding}]" if finding else "")


def acknowledge(construct: IConstruct, rule: str, reason_key: str, finding: str | None = None) -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id(rule, finding), reason=REASONS[reason_key]))


def flatten(value: Any) -> str:
    """A CloudFormation string expression as text, the way cdk-nag prints a resource in a finding:
    Ref -> <Id>, GetAtt -> <Id.Attr>, Fn::Join concatenated. The infra tests read templates with it too."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return f"<{arg}>"
        if fn == "Fn::GetAtt":
            return f"<{'.'.join(arg) if isinstance(arg, list) else arg}>"
        if fn == "Fn::Join":
            separator, parts = arg
            return separator.join(flatten(part) for part in parts)
    raise ValueError(f"not a CloudFormation string expression: {value!r}")


def nag_string(stack: Stack, value: str) -> str:
    """A resource string as cdk-nag prints it in a finding (`flatten` of its resolved expression)."""
    return flatten(stack.resolve(value))


def _wildcard_findings(stack: LiveSessionsStack, name: str) -> Iterable[tuple[str, str]]:
    """(finding, reason key) for each wildcard resource the function's statements in permissions.py name."""
    kinds = FUNCTION_ACTIONS[name]
    resources = {
        "table": (table_resources(stack.table), "IAM5-table-indexes"),
        "artifacts": (artifact_resources(stack.storage.artifacts), "IAM5-artifact-objects"),
        "connections": (
            connection_resources(
                stack, stack.ws.api.api_id, stack.ws.stage.stage_name, CONNECTION_METHODS.get(name, ())
            ),
            "IAM5-connections",
        ),
    }
    for kind in kinds.keys() & resources.keys():  # "worker" names one function's ARN: no wildcard
        values, reason_key = resources[kind]
        for value in values:
            rendered = nag_string(stack, value)
            if "*" in rendered:
                yield f"Resource::{rendered}", reason_key
    yield "Resource::*", "IAM5-xray-list-streams" if "streams" in EVENT_SOURCE_ACTIONS.get(name, {}) else "IAM5-xray"


def acknowledge_findings(stack: LiveSessionsStack) -> None:
    for name, function in stack.functions.items():
        acknowledge(function, "L1", "L1")
        for finding, reason_key in _wildcard_findings(stack, name):
            acknowledge(function.role, "IAM5", reason_key, finding)

    for route in HTTP_ROUTES:  # only the "iam" routes have a gateway authorizer (infra/http_api.py)
        if route.auth_kind == "iam":
            continue  # AWS_IAM authorization: APIG4 is satisfied
        reason_key = "APIG4-http-signed-in" if route.auth else "APIG4-http-public"
        acknowledge(stack.http.routes[route.route_key], "APIG4", reason_key)

    for route in WS_ROUTES:
        ws_route = stack.ws.api.node.find_child(f"{route.route_key}-Route")
        acknowledge(ws_route, "APIG4", "APIG4-ws-connect" if route.route_key == "$connect" else "APIG4-ws-route")

    if stack.ws.account_role is not None:
        managed = "arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
        acknowledge(stack.ws.account_role, "IAM4", "IAM4-apigw-logs", f"Policy::{managed}")

    acknowledge(stack.auth.user_pool, "COG2", "COG2")
    acknowledge(stack.auth.user_pool, "COG8", "COG8")
    acknowledge(stack.cursor_key, "SMG4", "SMG4-cursor-key")
    acknowledge(stack.sweep.failures, "SQS3", "SQS3")
    acknowledge(stack.fanout_shard_failures, "SQS3", "SQS3-fanout")
    acknowledge(stack.lifecycle.failures, "SQS3", "SQS3-lifecycle")
    if stack.lifecycle.webhook is not None:
        acknowledge(stack.lifecycle.webhook.failures, "SQS3", "SQS3-webhook")
        acknowledge(stack.lifecycle.webhook.key, "SMG4", "SMG4-webhook")
    acknowledge(stack.upload_failures, "SQS3", "SQS3-uploads")
    for child in stack.node.children:  # CDK's singleton that sets the artifacts bucket's notification
        if child.node.id.startswith("BucketNotificationsHandler"):
            managed = "arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
            acknowledge(child, "IAM4", "IAM4-bucket-notifications", f"Policy::{managed}")
            acknowledge(child, "IAM5", "IAM5-bucket-notifications", "Resource::*")
