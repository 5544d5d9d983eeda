"""Deployment configuration read from CDK context, in one place.

    cdk synth -c stage=prod                 # stage (default: cdk.json "stage")
    cdk deploy -c emulated=http://127.0.0.1:4599
                                            # emulated deploy into the local AWS emulator (ministack) at
                                            # that endpoint; see infra/emulator.py and `python -m infra.emulate`
    cdk synth -c settings='{"FANOUT_CONCURRENCY": "32"}'
                                            # override "config" settings (declared in session_schema.settings)
    cdk synth -c artifactKinds=kinds.json   # the deployment's artifact kinds (session_schema/artifact_kinds.py);
                                            # default: the default kinds
    cdk synth -c alarmEmail=ops@example.com # optional: subscribe this address to the stack's alarm topic
    cdk synth -c alarmTopicArn=arn:aws:sns:...   # optional: notify an existing SNS topic instead of creating one
    cdk synth -c apigwAccountRole=false     # the account already has an API Gateway CloudWatch role
    cdk synth -c reservedConcurrency=false  # an account whose Lambda quota cannot hold the reservations
    cdk synth -c powertoolsLayerVersion=N   # pin another version of the public Powertools layer
    cdk synth -c webhookUrl=https://...     # deliver every lifecycle event to this URL (infra/lifecycle_events.py)
    cdk synth -c publisherRoleArns=arn:aws:iam::111122223333:role/captions,arn:...
                                            # roles (of this account) that may publish over the IAM route
                                            # POST /iam/sessions/{id}/broadcasts (SigV4); see grant_publish

Emulated mode (`emulated=<endpoint>`, scheme://host:port of the emulator, nothing else) changes only what the
emulator cannot take or cannot reach, each in the module that builds it (infra/emulator.py lists them all):
the stack env is the emulator's account/region; WS_CALLBACK_URL and JWKS_URL point at the emulator; the
stack outputs give the emulator's URLs; and what the emulator refuses is left out (RouteResponses, Lambda
layers, the bucket auto-delete custom resource, the metric-math alarm). Without it the template is the real
one, unchanged (tests/infra/test_emulated.py checks the difference).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Node

from session_schema.artifact_kinds import load_kinds_file
from session_schema.settings import SETTINGS_BY_ENV

from infra.stack_name import DEFAULT_STAGE, stack_name

PROD_STAGE = "prod"
STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
# scheme://host[:port], nothing after it: the stack appends the emulator's own paths (/_aws/execute-api/...).
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLE_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
EMULATOR_ENDPOINT_PATTERN = re.compile(r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$")
# An EventBridge API destination's endpoint: HTTPS only (EventBridge refuses plain HTTP), no whitespace.
WEBHOOK_URL_PATTERN = re.compile(r"^https://[^\s/?#]+[^\s]*$")


@dataclass(frozen=True)
class Throttle:
    rate_limit: int  # steady-state requests (HTTP) or messages (WebSocket) per second
    burst_limit: int


@dataclass(frozen=True)
class StackConfig:
    stage: str
    # The local AWS emulator's endpoint (http://127.0.0.1:<port>) for an emulated deploy, else None.
    emulator_endpoint: str | None = None
    # Overrides of settings whose source is "config" (tunables); stack-sourced ones are never overridable.
    setting_overrides: dict[str, str] = field(default_factory=dict)
    alarm_topic_arn: str | None = None  # an existing topic for the alarms; None: the stack creates its own
    alarm_email: str | None = None  # subscribed to the stack's own topic (ignored with alarm_topic_arn)
    apigw_account_role: bool = True
    # Each function's declared reserved concurrency (session_schema.functions). Their sum plus the 100 that
    # Lambda keeps unreserved must fit the account's quota; a new account's quota (often 10) cannot, and the
    # deploy would fail, so such an account turns the reservations off (no guarantee, no cap per function).
    reserved_concurrency: bool = True
    powertools_layer_version: int | None = None  # None: the pinned release, resolved from its SSM parameter
    webhook_url: str | None = None  # every lifecycle event is delivered here (an API destination); None: no webhook
    # IAM roles granted the producers' publish route (execute-api:Invoke on it, and the handler's own check).
    publisher_role_arns: tuple[str, ...] = ()

    @property
    def is_prod(self) -> bool:
        return self.stage == PROD_STAGE

    @property
    def is_emulated(self) -> bool:
        return self.emulator_endpoint is not None

    @property
    def stack_name(self) -> str:
        return stack_name(self.stage)

    @property
    def removal_policy(self) -> RemovalPolicy:
        """Data (table, bucket, user pool, logs) survives a prod stack deletion; other stages clean up."""
        return RemovalPolicy.RETAIN if self.is_prod else RemovalPolicy.DESTROY

    @property
    def log_retention(self) -> logs.RetentionDays:
        return logs.RetentionDays.ONE_YEAR if self.is_prod else logs.RetentionDays.ONE_MONTH

    @property
    def http_throttle(self) -> Throttle:
        if self.is_prod:
            return Throttle(rate_limit=500, burst_limit=1000)
        return Throttle(rate_limit=50, burst_limit=100)

    @property
    def ws_throttle(self) -> Throttle:
        if self.is_prod:
            return Throttle(rate_limit=1000, burst_limit=2000)
        return Throttle(rate_limit=100, burst_limit=200)

    @property
    def sweep_interval(self) -> Duration:
        return Duration.minutes(5)

    def environment_overrides(self) -> dict[str, str]:
        """Overrides passed to `session_schema.settings.stack_environment` (the emulated mode's values
        depend on resources, so the stack adds them: infra/emulator.py)."""
        return dict(self.setting_overrides)


def _bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _optional_int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def _setting_overrides(raw: Any) -> dict[str, str]:
    if raw in (None, ""):
        return {}
    values = json.loads(raw) if isinstance(raw, str) else dict(raw)
    overrides: dict[str, str] = {}
    for name, value in values.items():
        setting = SETTINGS_BY_ENV.get(name)
        if setting is None:
            raise ValueError(f"context 'settings': {name} is not a declared setting")
        if setting.source != "config" or name in _STACK_SET:
            raise ValueError(f"context 'settings': {name} is supplied by the stack and cannot be overridden")
        overrides[name] = str(value)
    return overrides


# Config settings the stack itself sets (from its own context): PUBLISHER_ROLE_ARNS follows publisherRoleArns and
# grant_publish, so that a role is granted by IAM and by the handler together.
_STACK_SET = frozenset({"PUBLISHER_ROLE_ARNS"})


def _role_arns(value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    arns = tuple(str(item).strip() for item in items if str(item).strip())
    for arn in arns:
        if not ROLE_ARN_PATTERN.match(arn):
            raise ValueError(
                f"context 'publisherRoleArns': {arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
            )
    return tuple(dict.fromkeys(arns))


def _artifact_kinds(path: Any) -> dict[str, str]:
    """`-c artifactKinds=<file>` as the ARTIFACT_KINDS setting the functions read (checked here: synth fails on a
    bad declaration, not the first upload)."""
    if path in (None, ""):
        return {}
    return {"ARTIFACT_KINDS": load_kinds_file(str(path)).to_setting()}


def _email(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not EMAIL_PATTERN.match(value):
        raise ValueError(f"context 'alarmEmail' must be an e-mail address, got {value!r}")
    return value


def _webhook_url(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not WEBHOOK_URL_PATTERN.match(value):
        raise ValueError(f"context 'webhookUrl' must be an https:// URL (an API destination's), got {value!r}")
    return value


def load_config(node: Node) -> StackConfig:
    stage = str(node.try_get_context("stage") or DEFAULT_STAGE)
    if not STAGE_PATTERN.match(stage):
        raise ValueError(f"context 'stage' must match {STAGE_PATTERN.pattern}, got {stage!r}")
    emulated = node.try_get_context("emulated")
    if emulated is not None:
        emulated = str(emulated).rstrip("/")
        if not EMULATOR_ENDPOINT_PATTERN.match(emulated):
            raise ValueError(
                "context 'emulated' must be the emulator's endpoint, http://<host>:<port> with no path, "
                f"got {emulated!r}"
            )
    return StackConfig(
        stage=stage,
        emulator_endpoint=emulated,
        setting_overrides=_setting_overrides(node.try_get_context("settings"))
        | _artifact_kinds(node.try_get_context("artifactKinds")),
        alarm_topic_arn=node.try_get_context("alarmTopicArn") or None,
        alarm_email=_email(node.try_get_context("alarmEmail")),
        apigw_account_role=_bool(node.try_get_context("apigwAccountRole"), default=True),
        reserved_concurrency=_bool(node.try_get_context("reservedConcurrency"), default=True),
        powertools_layer_version=_optional_int(node.try_get_context("powertoolsLayerVersion")),
        webhook_url=_webhook_url(node.try_get_context("webhookUrl")),
        publisher_role_arns=_role_arns(node.try_get_context("publisherRoleArns")),
    )
