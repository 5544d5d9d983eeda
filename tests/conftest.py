"""Shared fixtures: fake AWS credentials, an in-process moto DynamoDB/S3 with the real table definition."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import boto3
import pytest

# Never reach a real AWS account from a test, whatever the developer's shell has.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_METRICS_NAMESPACE="LiveSessionsTest",
    POWERTOOLS_DEV="false",
    JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
)
logging.getLogger("werkzeug").setLevel(logging.ERROR)

from hypothesis import HealthCheck, settings  # noqa: E402
from moto import mock_aws  # noqa: E402  (after the credentials above)

from session_schema.keys import TABLE  # noqa: E402
from session_schema.store import SessionStore  # noqa: E402

# Property tests stay meaningful but bounded: CI is a 2-core machine with a time budget.
settings.register_profile("default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

TABLE_NAME = "live-sessions-test"
BUCKET_NAME = "live-sessions-artifacts-test"


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def ddb(aws):
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(**TABLE.create_table_kwargs(TABLE_NAME))
    return client


@pytest.fixture
def s3(aws):
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET_NAME)
    return client


@pytest.fixture
def store(ddb) -> SessionStore:
    return SessionStore(TABLE_NAME, client=ddb)
