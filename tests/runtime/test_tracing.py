"""Tracing: the X-Ray SDK is imported only when SDK tracing is on, and then traces AWS calls but not posts.

Both checks run in a fresh interpreter: what a cold start imports, and the SDK's botocore patch (global and
permanent in a process) stay out of this test process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from session_runtime.tracing import Tracing, build_tracing
from session_schema.settings import sdk_tracing_enabled

REPO = Path(__file__).resolve().parents[2]
IN_LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task"}


def _run(code: str, **env: str) -> str:
    base = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "PYTHONPATH": str(REPO / "lambdas")}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("environ", "enabled"),
    [
        ({}, False),  # not Lambda (tests, the local stack, the benchmarks)
        (IN_LAMBDA, False),  # Lambda, the declared default: active tracing only, no SDK
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "0"}, True),
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "TRUE"}, False),
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false", "AWS_SAM_LOCAL": "true"}, False),
        ({"POWERTOOLS_TRACE_DISABLED": "false"}, False),  # outside Lambda there is no daemon to send to
    ],
)
def test_sdk_tracing_is_on_only_in_lambda_when_not_disabled(environ, enabled):
    assert sdk_tracing_enabled(environ) is enabled
    if not enabled:  # (building an enabled one patches botocore for good: that is the subprocess test below)
        assert build_tracing(environ).enabled is False


def test_without_a_tracer_the_handler_is_undecorated():
    tracing = Tracing()

    def handler(event, context):
        return "answer"

    assert tracing.capture_lambda_handler(handler) is handler
    tracing.put_annotation("routeKey", "$connect")  # no tracer, no segment: nothing to fail


def test_a_cold_start_imports_neither_the_xray_sdk_nor_jwt_nor_the_openapi_models():
    """Import time a Lambda pays before any invocation; JWT only for tokens, OpenAPI only for /openapi.json."""
    loaded = _run(
        """
        import json, sys
        import connection_handler.app, connection_handler.sweep, http_session_handler.app
        heavy = ("aws_xray_sdk", "wrapt", "jwt", "cryptography", "aws_lambda_powertools.event_handler.openapi.models")
        print(json.dumps([name for name in heavy if name in sys.modules]))
        """,
        **IN_LAMBDA,
    )
    assert json.loads(loaded) == []


def test_with_sdk_tracing_aws_calls_are_subsegments_and_posts_are_not():
    """One subsegment per DynamoDB call and the handler's own, annotated; none for five posts (a fan-out
    to N listeners would otherwise record N entities, and their CPU)."""
    names = _run(
        """
        import json
        from session_runtime.tracing import build_tracing

        tracing = build_tracing()
        assert tracing.enabled
        from aws_xray_sdk.core import xray_recorder

        sent = []

        class Emitter:  # the UDP emitter's two methods; records instead of sending to the daemon
            def send_entity(self, entity):
                sent.append(entity.to_dict())

            def set_daemon_address(self, address):
                pass

        xray_recorder.configure(emitter=Emitter())
        import boto3
        from botocore.stub import Stubber

        ddb = boto3.client("dynamodb")
        management = boto3.client("apigatewaymanagementapi", endpoint_url="https://a1.execute-api.us-east-1.amazonaws.com/dev")

        @tracing.capture_lambda_handler
        def handler(event, context):
            tracing.put_annotation("routeKey", "broadcast")
            ddb.get_item(TableName="t", Key={"PK": {"S": "SESSION#a"}, "SK": {"S": "META"}})
            for _ in range(5):
                management.post_to_connection(ConnectionId="L0SM9cOFvHcCIhw=", Data=b"{}")
            return {"statusCode": 200}

        class Context:
            function_name, aws_request_id = "ConnectionFunction", "r-1"

        with Stubber(ddb) as db, Stubber(management) as posts:
            db.add_response("get_item", {})
            for _ in range(5):
                posts.add_response("post_to_connection", {})
            assert handler({}, Context()) == {"statusCode": 200}

        def walk(entity):
            yield entity["name"], entity.get("annotations", {})
            for child in entity.get("subsegments", []):
                yield from walk(child)

        print(json.dumps([item for entity in sent for item in walk(entity)]))
        """,
        **IN_LAMBDA,
        POWERTOOLS_TRACE_DISABLED="false",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    )
    entities = json.loads(names)
    assert [name for name, _ in entities] == ["dynamodb", "## handler"]
    assert entities[1][1].get("routeKey") == "broadcast"
