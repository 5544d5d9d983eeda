"""LiveSessionsStack: wires the parts in infra/ together. Each part is built by its own module."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from session_schema.settings import stack_environment

from infra import emulator
from infra.alarms import HandlerMetrics, build_alarm_topic, build_alarms
from infra.auth import build_auth
from infra.config import StackConfig
from infra.cursor_key import build_cursor_key
from infra.dashboard import build_dashboard
from infra.disconnect_queue import build_disconnect_queue
from infra.fanout_worker import build_fanout_worker_failures
from infra.functions import (
    CONNECTION_FUNCTION,
    FANOUT_WORKER_FUNCTION,
    HTTP_FUNCTION,
    LIFECYCLE_EVENTS_FUNCTION,
    SWEEP_FUNCTION,
    UPLOAD_FUNCTION,
    build_functions,
    dispatch_shards_to,
    set_environment,
)
from infra.http_api import IAM_ROUTES, build_http_api
from infra.lifecycle_events import build_lifecycle_events
from infra.nag import acknowledge_findings
from infra.notices import build_notice_queue
from infra.permissions import attach_permissions
from infra.publishers import Publishers
from infra.schedule import build_sweep_schedule
from infra.storage import build_storage
from infra.table import build_table
from infra.uploads import notify_uploads
from infra.websocket_api import build_websocket_api

# Feature flags this stack relies on, set on the stack node (before any child exists) so the behaviour
# does not depend on which cdk.json the app is synthesized with.
FEATURE_FLAGS = {
    # S3 server access logs are delivered through a bucket policy, not the LogDeliveryWrite ACL
    # (so the log bucket can keep ACLs disabled: BUCKET_OWNER_ENFORCED).
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}


class LiveSessionsStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, description=f"Live sessions backend ({config.stage})", **kwargs)
        for flag, value in FEATURE_FLAGS.items():
            self.node.set_context(flag, value)
        self.config = config
        self.table = build_table(self, config)
        self.auth = build_auth(self, config)
        self.storage = build_storage(self, config)
        self.cursor_key = build_cursor_key(self)
        self.functions = build_functions(self, config)
        self.http = build_http_api(self, config, self.functions[HTTP_FUNCTION])
        self.disconnects = build_disconnect_queue(self, config, self.functions[CONNECTION_FUNCTION])
        self.ws = build_websocket_api(
            self, config, self.functions[CONNECTION_FUNCTION], disconnects=self.disconnects.integration
        )
        self.lifecycle = build_lifecycle_events(
            self, config, table=self.table, function=self.functions[LIFECYCLE_EVENTS_FUNCTION]
        )
        self.notices = build_notice_queue(self, config, self.functions[FANOUT_WORKER_FUNCTION])
        attach_permissions(
            self.functions,
            table=self.table,
            bucket=self.storage.artifacts,
            cursor_key=self.cursor_key,
            ws_api_id=self.ws.api.api_id,
            ws_stage_name=self.ws.stage.stage_name,
            worker=self.functions[FANOUT_WORKER_FUNCTION],
            bus=self.lifecycle.bus,
            notices=self.notices.queue,
            disconnects=self.disconnects.queue,
        )
        # Who may publish over the IAM route: the roles named at deploy time now, and any grant_publish later.
        self.publishers = Publishers(self, self.http.api, self.http.stage.stage_name, IAM_ROUTES)
        for index, arn in enumerate(config.publisher_role_arns):
            self.grant_publish(iam.Role.from_role_arn(self, f"Publisher{index}", arn))
        # One environment for every function, from the settings declaration (KeyError if a wire is missing).
        overrides = {
            **config.environment_overrides(),
            "PUBLISHER_ROLE_ARNS": self.publishers.arns,
            "NOTICE_QUEUE_URL": self.notices.queue.queue_url,
        }
        if config.emulator_endpoint:
            # Tokens from the emulator's Cognito carry the real issuer URL, but its keys are served by the
            # emulator (infra/emulator.py). An explicit -c settings JWKS_URL still wins.
            overrides.setdefault(
                "JWKS_URL", emulator.jwks_url(config.emulator_endpoint, self.auth.user_pool.user_pool_id)
            )
        self.function_environment = stack_environment(
            {
                "TABLE_NAME": self.table.table_name,
                "ARTIFACTS_BUCKET": self.storage.artifacts.bucket_name,
                "WS_CALLBACK_URL": self.ws.callback_url,  # the emulator's @connections endpoint when emulated
                "JWT_ISSUER": self.auth.issuer,
                "JWT_AUDIENCE": self.auth.audience,
                "CURSOR_KEY_SECRET": self.cursor_key.secret_arn,
                "EVENT_BUS_NAME": self.lifecycle.bus.event_bus_name,
            },
            overrides,
        )
        set_environment(self.functions, self.function_environment)
        dispatch_shards_to(self.functions, FANOUT_WORKER_FUNCTION)
        self.sweep = build_sweep_schedule(self, config, self.functions[SWEEP_FUNCTION])
        self.sweep_rule = self.sweep.rule
        self.fanout_shard_failures = build_fanout_worker_failures(self, config, self.functions[FANOUT_WORKER_FUNCTION])
        self.upload_failures = notify_uploads(self, config, self.storage.artifacts, self.functions[UPLOAD_FUNCTION])
        self.alarm_topic = build_alarm_topic(self, config)
        handler_metrics = HandlerMetrics(
            self.function_environment["POWERTOOLS_METRICS_NAMESPACE"],
            self.function_environment["POWERTOOLS_SERVICE_NAME"],
        )
        self.alarms = build_alarms(
            self,
            config,
            topic=self.alarm_topic,
            handler_metrics=handler_metrics,
            functions=self.functions,
            http=self.http,
            ws=self.ws,
            table=self.table,
            sweep_failures=self.sweep.failures,
            fanout_shard_failures=self.fanout_shard_failures,
            lifecycle=self.lifecycle,
            upload_failures=self.upload_failures,
            notice_failures=self.notices.failures,
            disconnect_failures=self.disconnects.failures,
        )
        self.dashboard = build_dashboard(
            self, config, handler_metrics=handler_metrics, functions=self.functions, http=self.http, ws=self.ws
        )
        self._outputs()
        acknowledge_findings(self)

    def grant_publish(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let `grantee` (a role, or a user) publish to any session over the IAM route
        `POST /iam/sessions/{sessionId}/broadcasts` with SigV4-signed requests: `execute-api:Invoke` on exactly
        that route, and its ARN added to the function's PUBLISHER_ROLE_ARNS (the handler's own check)."""
        return self.publishers.grant(grantee)

    def _outputs(self) -> None:
        outputs = {
            "HttpApiUrl": (self.http.url, "HTTP API base URL"),
            "WebSocketUrl": (self.ws.url, "wss:// URL clients connect to"),
            "WebSocketCallbackUrl": (self.ws.callback_url, "https:// management endpoint (@connections)"),
            "HttpApiId": (self.http.api.api_id, "HTTP API id"),
            "WebSocketApiId": (self.ws.api.api_id, "WebSocket API id"),
            "WebSocketStageName": (self.ws.stage.stage_name, "WebSocket stage"),
            "UserPoolId": (self.auth.user_pool.user_pool_id, "Cognito user pool (speakers)"),
            "UserPoolClientId": (self.auth.client.user_pool_client_id, "Cognito app client (JWT audience)"),
            "JwtIssuer": (self.auth.issuer, "issuer (iss) of accepted tokens"),
            "TableName": (self.table.table_name, "DynamoDB table"),
            "AlarmTopicArn": (self.alarm_topic.topic_arn, "SNS topic every alarm notifies"),
            "SweepFailuresQueueUrl": (self.sweep.failures.queue_url, "failed sweep invocations (dead-letter queue)"),
            "FanoutShardFailuresQueueUrl": (
                self.fanout_shard_failures.queue_url,
                "fan-out shards that failed past Lambda's retries (dead-letter queue)",
            ),
            "UploadNotificationFailuresQueueUrl": (
                self.upload_failures.queue_url,
                "upload notifications that failed past Lambda's retries (dead-letter queue)",
            ),
            "DisconnectFailuresQueueUrl": (
                self.disconnects.failures.queue_url,
                "$disconnect messages whose leave kept failing past the queue's receives (dead-letter queue)",
            ),
            "ArtifactsBucketName": (self.storage.artifacts.bucket_name, "S3 bucket for session artifacts"),
            "LifecycleEventBusName": (self.lifecycle.bus.event_bus_name, "EventBridge bus of the lifecycle events"),
            "LifecycleEventFailuresQueueUrl": (
                self.lifecycle.failures.queue_url,
                "stream batches the lifecycle events function gave up on (python -m lifecycle_events.redrive)",
            ),
        }
        if self.lifecycle.webhook is not None:
            outputs["WebhookKeySecretArn"] = (
                self.lifecycle.webhook.key.secret_arn,
                "the key the webhook sends in its X-Webhook-Key header (Secrets Manager)",
            )
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)
