"""Every setting a handler reads from its environment, declared once.

The handlers read settings only through `load_settings()`; the CDK stack sets each function's
environment from `SETTINGS` (values for `source="stack"` come from the resources it creates); the
local stack does the same. A name spelled two ways therefore cannot happen: there is one spelling.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .artifact_kinds import DEFAULT_KINDS, ArtifactKinds, parse_kinds


@dataclass(frozen=True)
class Setting:
    env: str  # the environment variable's name
    field: str  # the attribute on `Settings`
    description: str
    default: str | None = None
    # "stack": the deployment supplies it from a resource it creates (table, bucket, URL, issuer...);
    # "config": a tunable with a default; the stack passes the default unless overridden by context.
    source: Literal["stack", "config"] = "config"


SETTINGS: tuple[Setting, ...] = (
    Setting("TABLE_NAME", "table_name", "the single DynamoDB table", source="stack"),
    Setting("ARTIFACTS_BUCKET", "artifacts_bucket", "S3 bucket for session artifacts", source="stack"),
    Setting(
        "WS_CALLBACK_URL",
        "ws_callback_url",
        "https callback URL of the WebSocket stage (management API endpoint for post_to_connection)",
        source="stack",
    ),
    Setting(
        "JWT_ISSUER", "jwt_issuer", "issuer (iss) of accepted tokens, e.g. the Cognito user pool URL", source="stack"
    ),
    Setting(
        "CURSOR_KEY_SECRET",
        "cursor_key_secret",
        "Secrets Manager secret (ARN or name) the pagination cursors' sealing key is derived from; read once per"
        " cold start, by the first listing that pages (session_schema/cursor.py)",
        source="stack",
    ),
    Setting("JWT_AUDIENCE", "jwt_audience", "accepted audience / client_id (the app client ID)", source="stack"),
    Setting(
        "EVENT_BUS_NAME",
        "event_bus_name",
        "the stack's EventBridge bus, where the lifecycle events function puts what the table's stream says",
        source="stack",
    ),
    Setting(
        "JWKS_URL",
        "jwks_url",
        "where the issuer's signing keys are published; empty means <issuer>/.well-known/jwks.json",
        default="",
    ),
    # Set by the deployment from `-c publisherRoleArns` and `grant_publish` (infra/http_api.py), never by `-c settings`.
    Setting(
        "PUBLISHER_ROLE_ARNS",
        "publisher_role_arns",
        "comma-separated IAM role ARNs whose SigV4-signed requests may publish on the IAM route; empty: none",
        "",
    ),
    Setting("DEFAULT_MAX_LISTENERS", "default_max_listeners", "maxListeners when a create omits it", "100"),
    Setting("MAX_LISTENERS_LIMIT", "max_listeners_limit", "largest maxListeners a create may ask for", "10000"),
    Setting(
        "SPEAKERLESS_TIMEOUT_SECONDS",
        "speakerless_timeout_seconds",
        "a joinable session with no speaker connected for this long is ended by the sweep",
        "1800",
    ),
    Setting(
        "CONNECTION_TTL_SECONDS",
        "connection_ttl_seconds",
        "connection records expire after this (API Gateway caps a connection at 2 h)",
        "10800",
    ),
    Setting(
        "ENDED_SESSION_TTL_DAYS", "ended_session_ttl_days", "ended sessions expire this many days after ending", "30"
    ),
    Setting("MESSAGE_TTL_DAYS", "message_ttl_days", "stored messages expire after this many days", "30"),
    Setting(
        "STREAM_WINDOW_SECONDS",
        "stream_window_seconds",
        "how long a session's stream events are kept for recovery (then expire by TTL); 0 keeps none",
        "600",
    ),
    Setting(
        "STREAM_MAX_EVENTS",
        "stream_max_events",
        "a recovery replays at most this many events; a client further behind gets recovered:false",
        "10000",
    ),
    Setting("IDEMPOTENCY_TTL_SECONDS", "idempotency_ttl_seconds", "how long an Idempotency-Key is remembered", "86400"),
    Setting("UPLOAD_URL_EXPIRY_SECONDS", "upload_url_expiry_seconds", "lifetime of a presigned upload URL", "300"),
    Setting(
        "DOWNLOAD_URL_EXPIRY_SECONDS",
        "download_url_expiry_seconds",
        "lifetime of a shared artifact's presigned download URL (minted per request, never kept in the stream)",
        "60",
    ),
    Setting("MAX_UPLOAD_BYTES", "max_upload_bytes", "largest artifact upload the presigned URL accepts", "26214400"),
    Setting(
        "ARTIFACT_KINDS",
        "artifact_kinds",
        "the deployment's artifact kinds (session_schema/artifact_kinds.py): a JSON list of {name, contentTypes,"
        " maxBytes?, processor?}; empty: the default kinds. The stack sets it from `-c artifactKinds=<file>`",
        "",
    ),
    Setting("FANOUT_CONCURRENCY", "fanout_concurrency", "parallel post_to_connection calls per fan-out", "16"),
    Setting(
        "FANOUT_POST_TIMEOUT_MS",
        "fanout_post_timeout_ms",
        "bound on one management API call, retries of a throttled (429) post included: the longest a fan-out"
        " waits on one slow connection",
        "2000",
    ),
    Setting(
        "FANOUT_SHARD_THRESHOLD",
        "fanout_shard_threshold",
        "connections one invocation posts to; a fan-out to more is split into shards, one per this many, all but"
        " the first handed to the fan-out worker function",
        "2000",
    ),
    # Set by the deployment on the functions that dispatch, not on the worker itself (its own name in its
    # own environment would be a circular reference in CloudFormation): empty means no dispatch.
    Setting(
        "FANOUT_WORKER_FUNCTION",
        "fanout_worker_function",
        "name or ARN of the fan-out worker function the shards of a large fan-out are invoked on; empty: none",
        "",
    ),
    Setting(
        "FANOUT_STRIKES_TO_CLOSE",
        "fanout_strikes_to_close",
        "failed posts in a row (not 410) after which a connection is closed and unregistered as a slow consumer",
        "3",
    ),
    Setting(
        "GHOST_GRACE_SECONDS",
        "ghost_grace_seconds",
        "the sweep asks API Gateway about connections registered longer ago than this (a $connect in flight"
        " is not yet one API Gateway reports)",
        "60",
    ),
    Setting(
        "UPLOAD_NOTIFICATION_GRACE_SECONDS",
        "upload_notification_grace_seconds",
        "the sweep checks storage itself for a pending artifact created longer ago than this (its notification"
        " never came), and fails one with no object this long after its upload form expired",
        "300",
    ),
    Setting(
        "HANDSHAKE_WINDOW_SECONDS",
        "handshake_window_seconds",
        "API Gateway's integration timeout, the longest a $connect runs: until it returns, a post to the connection"
        " is answered 410 although the socket is about to open, so a 410 unregisters only connections registered"
        " longer ago than this, and a full session's join probes only those",
        "29",
    ),
    Setting(
        "PRESENCE_MEMBERS_MAX",
        "presence_members_max",
        "past this many connections a session's presenceChanged notices carry the counts only (no members)",
        "100",
    ),
    # Set by the deployment from the queue it creates (infra/notices.py), never by `-c settings`. Empty: trailing
    # notices are not scheduled, so a change within a second of the last notice waits for the next change.
    Setting(
        "NOTICE_QUEUE_URL",
        "notice_queue_url",
        "SQS queue of trailing presence and reaction notices (session_runtime/conflation.py); empty: none",
        "",
    ),
    # A connection's action budget (session_runtime/budget.py): token buckets per execution environment.
    Setting("ACTION_BURST", "action_burst", "frames a connection may send at once (every action)", "200"),
    Setting("ACTION_RATE_PER_SECOND", "action_rate_per_second", "frames per second a connection keeps", "100"),
    Setting("READ_BURST", "read_burst", "reads (history, join, refused speaker actions) a connection may burst", "10"),
    Setting("READ_RATE_PER_SECOND", "read_rate_per_second", "reads per second a connection keeps", "2"),
    Setting("POWERTOOLS_SERVICE_NAME", "service_name", "service name on every log line and metric", "live-sessions"),
    Setting("POWERTOOLS_METRICS_NAMESPACE", "metrics_namespace", "CloudWatch namespace of the metrics", "LiveSessions"),
    Setting("POWERTOOLS_LOG_LEVEL", "log_level", "log level", "INFO"),
    Setting(
        "POWERTOOLS_TRACE_DISABLED",
        "trace_disabled",
        "no X-Ray SDK: Lambda's active tracing alone records each invocation; 'false' adds a subsegment per AWS "
        "call and the handlers' annotations, at a cost in cold start (docs/figures.md, coldstart)",
        "true",
    ),
)

SETTINGS_BY_ENV: dict[str, Setting] = {s.env: s for s in SETTINGS}


class Settings(BaseModel):
    """Typed view of the environment. Field names are the `field` of each declared `Setting`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    table_name: str
    artifacts_bucket: str = ""
    ws_callback_url: str = ""
    jwt_issuer: str = ""
    jwt_audience: str = ""
    event_bus_name: str = ""
    jwks_url: str = ""
    cursor_key_secret: str = ""
    publisher_role_arns: str = ""
    default_max_listeners: int = Field(ge=1)
    max_listeners_limit: int = Field(ge=1)
    speakerless_timeout_seconds: int = Field(ge=1)
    connection_ttl_seconds: int = Field(ge=60)
    ended_session_ttl_days: int = Field(ge=1)
    message_ttl_days: int = Field(ge=1)
    stream_window_seconds: int = Field(ge=0, le=86400)
    stream_max_events: int = Field(ge=1)
    idempotency_ttl_seconds: int = Field(ge=60)
    upload_url_expiry_seconds: int = Field(ge=1, le=3600)
    download_url_expiry_seconds: int = Field(ge=1, le=3600)
    max_upload_bytes: int = Field(ge=1)
    artifact_kinds: ArtifactKinds = DEFAULT_KINDS
    fanout_concurrency: int = Field(ge=1, le=128)
    fanout_post_timeout_ms: int = Field(ge=50, le=20_000)
    fanout_strikes_to_close: int = Field(ge=1, le=100)
    fanout_shard_threshold: int = Field(ge=1)
    fanout_worker_function: str = ""
    ghost_grace_seconds: int = Field(ge=0, le=7200)
    upload_notification_grace_seconds: int = Field(ge=0, le=86400)
    handshake_window_seconds: int = Field(ge=0, le=29)
    presence_members_max: int = Field(ge=0, le=1000)
    notice_queue_url: str = ""
    action_burst: int = Field(ge=1, le=10_000)
    action_rate_per_second: float = Field(gt=0, le=10_000)
    read_burst: int = Field(ge=1, le=10_000)
    read_rate_per_second: float = Field(gt=0, le=10_000)
    service_name: str
    metrics_namespace: str
    log_level: str
    trace_disabled: bool

    @field_validator("artifact_kinds", mode="before")
    @classmethod
    def _declared_kinds(cls, value: object) -> object:
        return parse_kinds(value) if isinstance(value, str) else value

    def max_upload_bytes_of(self, kind: str) -> int:
        """The largest upload of `kind`: its declared maximum, else MAX_UPLOAD_BYTES."""
        declared = self.artifact_kinds.get(kind)
        return declared.maxBytes if declared is not None and declared.maxBytes is not None else self.max_upload_bytes

    @property
    def publisher_roles(self) -> tuple[str, ...]:
        return tuple(arn.strip() for arn in self.publisher_role_arns.split(",") if arn.strip())

    @property
    def resolved_jwks_url(self) -> str:
        return self.jwks_url or f"{self.jwt_issuer.rstrip('/')}/.well-known/jwks.json"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every declared setting (and nothing else) from the environment."""
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for setting in SETTINGS:
        value = env.get(setting.env, setting.default)
        if value is not None:
            values[setting.field] = value
    return Settings.model_validate(values)  # str values: pydantic parses the int fields


# Powertools' rule for "tracing can work here": inside Lambda, not in SAM's or Chalice's local emulation.
_NOT_LAMBDA = ("AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE")
_TRUTHY = frozenset({"1", "t", "y", "on", "yes", "true"})  # what Powertools reads as true


def sdk_tracing_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the X-Ray SDK is wanted: POWERTOOLS_TRACE_DISABLED is not true and this is Lambda itself.

    Read without `load_settings()` (it needs the table name and more): the handlers decide this at import.
    """
    env = os.environ if environ is None else environ
    setting = SETTINGS_BY_ENV["POWERTOOLS_TRACE_DISABLED"]
    disabled = env.get(setting.env, setting.default or "").strip().lower() in _TRUTHY
    return not disabled and bool(env.get("LAMBDA_TASK_ROOT")) and not any(env.get(name) for name in _NOT_LAMBDA)


def stack_environment(stack_values: Mapping[str, str], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a deployment gives every function: stack-supplied values plus config defaults.

    Raises KeyError naming a stack setting the deployment forgot, so a missing wire fails at synth time.
    """
    overrides = overrides or {}
    env: dict[str, str] = {}
    for setting in SETTINGS:
        if setting.env in overrides:
            env[setting.env] = overrides[setting.env]
        elif setting.source == "stack":
            if setting.env not in stack_values:
                raise KeyError(f"the deployment must supply setting {setting.env}")
            env[setting.env] = stack_values[setting.env]
        elif setting.default is not None:
            env[setting.env] = setting.default
    unknown = set(stack_values) - set(SETTINGS_BY_ENV)
    if unknown:
        raise KeyError(f"not declared settings: {sorted(unknown)}")
    return env
