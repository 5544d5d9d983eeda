"""`--dynamodb-endpoint URL` (`LocalStack(dynamodb_endpoint=...)`): the stack and its handlers use another
DynamoDB, create the table there if it is missing, and sign with fixed fake credentials when that DynamoDB
is on this machine (DynamoDB Local: any credentials work) or with the developer's own otherwise (a real
table needs them).

"Another DynamoDB" is a second, standalone moto server that records who signed each request it gets. moto
keeps its data in module globals, so the embedded moto of the stack (still its S3) shares that data; the
record is what proves the requests went to the other server.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.dynamodb import backend
from tests.support.local_stack import create_session, running_local_stack
from tests.support.other_dynamodb import OtherDynamoDb

pytestmark = pytest.mark.e2e

@pytest.fixture
def other() -> Iterator[OtherDynamoDb]:
    with OtherDynamoDb() as server:
        yield server


def _names() -> dict[str, str]:
    # A table (and bucket) no earlier stack in this process made: this stack has to create it.
    suffix = uuid.uuid4().hex[:8]
    return {"table_name": f"live-sessions-other-{suffix}", "bucket_name": f"live-sessions-other-{suffix}"}


def _create_session(local: Any) -> str:
    return create_session(local, local.mint("alice"), title="elsewhere")


def test_a_local_dynamodb_gets_the_table_and_the_items_with_fake_credentials(other: OtherDynamoDb, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIADEVELOPER")  # a developer's own: must not be sent here
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "developer-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "developer-session")
    names = _names()
    with running_local_stack(dynamodb_endpoint=other.url, **names) as local:
        assert local.urls.dynamodb == other.url
        assert local.urls.s3 != other.url  # S3 still comes from the embedded moto
        assert not local.dynamodb_access.user_credentials
        session_id = _create_session(local)

    assert {"CreateTable", "DescribeTable"} <= other.operations(), other.requests
    assert other.operations() - {"CreateTable", "DescribeTable", "UpdateTimeToLive"}, "no handler request arrived"
    assert {(r["key"], r["region"], r["session_token"]) for r in other.requests} == {("local", "us-east-1", None)}
    assert session_id in json.dumps(other.table_items(names["table_name"], "us-east-1"))


def test_an_existing_table_is_used_as_it_is(other: OtherDynamoDb) -> None:
    names = _names()
    assert backend.ensure_table(other.url, names["table_name"]) is True
    with running_local_stack(dynamodb_endpoint=other.url, **names) as local:
        session_id = _create_session(local)
    assert [r["operation"] for r in other.requests].count("CreateTable") == 2  # the second one was refused
    assert session_id in json.dumps(other.table_items(names["table_name"], "us-east-1"))


def test_a_remote_dynamodb_is_signed_with_the_developers_credentials(other: OtherDynamoDb, monkeypatch) -> None:
    # The other server is on 127.0.0.1; make the stack treat it as remote (a real table, another host).
    monkeypatch.setattr(backend, "is_loopback", lambda url: False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIADEVELOPER")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "developer-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "developer-session")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    names = _names()
    with running_local_stack(dynamodb_endpoint=other.url, **names) as local:
        assert local.dynamodb_access == backend.DynamoDbAccess(user_credentials=True, region="eu-west-1")
        session_id = _create_session(local)
        assert os.environ["AWS_SESSION_TOKEN"] == "developer-session"  # not scrubbed for the handlers
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIADEVELOPER"  # restored as it was

    assert "CreateTable" in other.operations()
    assert other.operations() - {"CreateTable", "DescribeTable", "UpdateTimeToLive"}, "no handler request arrived"
    signers = {(r["key"], r["region"], r["service"], r["session_token"]) for r in other.requests}
    assert signers == {("AKIADEVELOPER", "eu-west-1", "dynamodb", "developer-session")}
    assert session_id in json.dumps(other.table_items(names["table_name"], "eu-west-1"))


def test_which_credentials_for_which_endpoint(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIADEVELOPER")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "developer-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    local_only = backend.DynamoDbAccess(user_credentials=False, region="us-east-1")
    for url in (None, "http://localhost:8000", "http://127.0.0.1:8000", "http://[::1]:8000"):
        assert backend.dynamodb_access(url) == local_only, url
    remote = {
        "https://dynamodb.eu-central-1.amazonaws.com": "eu-central-1",  # the region in the name
        "https://dynamodb-fips.us-west-2.amazonaws.com": "us-west-2",
        "https://vpce-0a1b.dynamodb.ca-central-1.vpce.amazonaws.com": "ca-central-1",
        "http://dynamodb-local:8000": "ap-south-1",  # else the configured one
    }
    for url, region in remote.items():
        assert backend.dynamodb_access(url) == backend.DynamoDbAccess(user_credentials=True, region=region), url

    # No credentials anywhere: an endpoint that needs none (DynamoDB Local on another host) still works.
    for name in (
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert backend.dynamodb_access("http://dynamodb-local:8000") == local_only
