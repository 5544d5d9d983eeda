"""The deployed stack's name: here, without the CDK, so that commands run against a deployed stack
(infra/speaker.py) need not import aws_cdk (seconds) to find it."""

from __future__ import annotations

STACK_NAME_PREFIX = "LiveSessions"
DEFAULT_STAGE = "dev"  # cdk.json's "stage"


def stack_name(stage: str = DEFAULT_STAGE) -> str:
    return f"{STACK_NAME_PREFIX}-{stage}"
