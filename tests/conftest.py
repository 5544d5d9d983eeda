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
from session_store.store import SessionStore  # noqa: E402

from local.dynamodb.atomic_moto import make_moto_dynamodb_atomic  # noqa: E402
from tests.support.aws import (  # noqa: E402
    BUCKET_NAME,
    CURSOR_SECRET,
    CURSOR_SECRET_NAME,
    EVENT_BUS_NAME,
    TABLE_NAME,
    fixed_cursor_seal,
)
from tests.support.http_events import AUDIENCE, ISSUER_URL, shared_issuer  # noqa: E402
from tests.support.threaded_metrics import make_metrics_thread_safe  # noqa: E402

# Property tests stay meaningful but bounded: CI is a 2-core machine with a time budget.
settings.register_profile("default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

make_moto_dynamodb_atomic()  # race tests must see DynamoDB's atomicity, not moto's lack of it
make_metrics_thread_safe()  # race tests run many invocations in threads of one process


@pytest.fixture(scope="session")
def aws_clients() -> dict[str, object]:
    """boto3 clients made once: creating one costs ~0.1 s, and moto intercepts them whenever a mock is on."""
    from botocore.config import Config

    return {
        "dynamodb": boto3.client("dynamodb", region_name="us-east-1"),
        "s3": boto3.client("s3", region_name="us-east-1", config=Config(signature_version="s3v4")),  # as the runtime's
        "secretsmanager": boto3.client("secretsmanager", region_name="us-east-1"),
    }


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():  # a fresh, empty account for every test
        yield


@pytest.fixture
def ddb(aws, aws_clients):
    client = aws_clients["dynamodb"]
    client.create_table(**TABLE.create_table_kwargs(TABLE_NAME))
    return client


@pytest.fixture
def s3(aws, aws_clients):
    client = aws_clients["s3"]
    client.create_bucket(Bucket=BUCKET_NAME)
    return client


@pytest.fixture
def store(ddb) -> SessionStore:
    return SessionStore(TABLE_NAME, client=ddb, cursor_seal=fixed_cursor_seal())


@pytest.fixture(scope="session")
def issuer():
    """A local RS256 issuer standing in for Cognito (one key pair for the whole run): the one whose
    tokens `http_event(user=...)` sends, so the `runtime` verifier accepts them."""
    return shared_issuer()


@pytest.fixture
def settings_env(monkeypatch) -> dict[str, str]:
    """The environment a deployed function gets, built from the settings declaration."""
    from session_schema.settings import stack_environment

    env = stack_environment(
        {
            "TABLE_NAME": TABLE_NAME,
            "ARTIFACTS_BUCKET": BUCKET_NAME,
            "EVENT_BUS_NAME": EVENT_BUS_NAME,
            "WS_CALLBACK_URL": "https://example.execute-api.us-east-1.amazonaws.com/test",
            "JWT_ISSUER": ISSUER_URL,
            "JWT_AUDIENCE": AUDIENCE,
            "CURSOR_KEY_SECRET": CURSOR_SECRET_NAME,
        }
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def runtime(settings_env, ddb, s3, issuer, aws_clients):
    """The handlers' runtime against moto, with the management API captured and the test issuer trusted: put in
    place for the test with the handlers' own injection (`get_runtime.override`)."""
    from session_runtime.auth import TokenVerifier, clear_jwks_cache
    from session_runtime.runtime import build_runtime, get_runtime

    from tests.support.fakes import FakeManagementApi, TrailingNotices

    clear_jwks_cache()
    rt = build_runtime()
    rt.secrets = aws_clients["secretsmanager"]  # the shared clients: same code path, no client start-up cost
    rt.secrets.create_secret(Name=CURSOR_SECRET_NAME, SecretString=CURSOR_SECRET)
    rt.store = SessionStore(TABLE_NAME, client=ddb, cursor_seal=rt.cursor_seal)
    rt.s3 = s3
    rt.management = rt.connections = FakeManagementApi()  # boto3's odd call and the lean post path alike
    rt.verifier = TokenVerifier(ISSUER_URL, AUDIENCE, issuer.jwks_url, fetch_jwks=lambda url: issuer.jwks())
    rt.notice_scheduler = TrailingNotices(rt)  # the notice queue: trailing notices handled at once
    with get_runtime.override(rt):
        yield rt


@pytest.fixture
def management(runtime):
    return runtime.management


@pytest.fixture
def hung_handlers(settings_env, monkeypatch, issuer):
    """The handler driver on the runtime as deployed, with DynamoDB a server that never answers
    (tests/support/hung.py)."""
    from tests.support.handlers import Handlers
    from tests.support.hung import hung_dynamodb_runtime

    with hung_dynamodb_runtime(monkeypatch, issuer) as rt:
        yield Handlers(rt, issuer)


@pytest.fixture
def logs():
    """The handlers' structured log lines written during the test (tests/support/logs.py)."""
    from tests.support.logs import captured_logs

    with captured_logs() as captured:
        yield captured


@pytest.fixture(scope="module")
def stack():
    """The local stack with the real handlers, one per test module (tests/support/local_stack.py)."""
    from tests.support.local_stack import running_local_stack

    with running_local_stack() as local:
        yield local


@pytest.fixture
def handlers(runtime, issuer):
    """Both real handlers driven with real API Gateway events against `runtime` (tests/support/handlers.py)."""
    from tests.support.handlers import Handlers

    return Handlers(runtime, issuer)
