"""The names of the moto account's table and bucket every test's runtime is configured with (tests/conftest.py)."""

from __future__ import annotations

from typing import Any

TABLE_NAME = "live-sessions-test"
BUCKET_NAME = "live-sessions-artifacts-test"


def create_pk_sk_table(ddb: Any, name: str) -> str:
    """A bare on-demand table with the stack's key shape (string PK and SK) for tests of moto's own answers."""
    key = [("PK", "HASH"), ("SK", "RANGE")]
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": attribute, "KeyType": kind} for attribute, kind in key],
        AttributeDefinitions=[{"AttributeName": attribute, "AttributeType": "S"} for attribute, _ in key],
        BillingMode="PAY_PER_REQUEST",
    )
    return name
