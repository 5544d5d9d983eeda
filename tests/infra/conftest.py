"""One synthesized stack shared by every infra test (jsii costs seconds per synth), plus one prod synth.

How a synth is made, and why its nag findings are read rather than raised: tests/support/synth.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
for path in (ROOT / "lambdas", ROOT):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from tests.support.synth import PROD_ALARM_EMAIL, PROD_PUBLISHER_ROLES, Synth, synth  # noqa: E402  (after sys.path above)


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The stack as `cdk synth` builds it by default (stage from cdk.json: dev)."""
    return synth(tmp_path_factory.mktemp("cdk-dev"))


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The same app with `-c stage=prod` (retention, deletion protection), an alarm e-mail address, and two roles
    granted the producers' publish route."""
    return synth(
        tmp_path_factory.mktemp("cdk-prod"),
        stage="prod",
        alarmEmail=PROD_ALARM_EMAIL,
        publisherRoleArns=",".join(PROD_PUBLISHER_ROLES),
    )
