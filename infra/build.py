"""Builds the CDK app: used by app.py (cdk synth/deploy) and by the infra tests, so both synth the same."""

from __future__ import annotations

import os

import aws_cdk as cdk
from aws_cdk import Validations
from cdk_nag import AwsSolutionsChecks

from infra.config import load_config
from infra.emulator import EMULATOR_ACCOUNT, EMULATOR_REGION
from infra.stack import LiveSessionsStack


def build_app(app: cdk.App, *, nag: bool = True) -> LiveSessionsStack:
    config = load_config(app.node)
    account, region = os.environ.get("CDK_DEFAULT_ACCOUNT"), os.environ.get("CDK_DEFAULT_REGION")
    if config.is_emulated:  # the emulator's one account and region, whatever the shell says
        account, region = EMULATOR_ACCOUNT, EMULATOR_REGION
    env = cdk.Environment(account=account, region=region) if account and region else None
    stack = LiveSessionsStack(app, config.stack_name, config=config, env=env)
    if nag:
        # cdk-nag 3.x is a policy-validation plugin: findings land in the assembly's validation report and
        # unacknowledged errors fail the synth. Acknowledgments (infra/nag.py, each with its reason) are
        # also written into the template's resource Metadata (`cdk_nag`) as an audit trail.
        Validations.of(app).add_plugins(AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True))
    return stack
