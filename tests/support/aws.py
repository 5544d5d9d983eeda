"""The names of the moto account's table, bucket, cursor secret and event bus every test's runtime is
configured with (tests/conftest.py)."""

from __future__ import annotations

from typing import Any

from session_schema.cursor import CursorSeal

TABLE_NAME = "live-sessions-test"
BUCKET_NAME = "live-sessions-artifacts-test"
EVENT_BUS_NAME = "live-sessions-events-test"
CURSOR_SECRET_NAME = "live-sessions-cursor-key-test"
CURSOR_SECRET = "test-cursor-secret-" + "0123456789abcdef" * 3  # the runtime's, and `fixed_cursor_seal()`'s


def fixed_cursor_seal() -> CursorSeal:
    """A seal under the test secret: opens what the test runtime's seal (the same secret, in moto) sealed."""
    return CursorSeal.from_secret(CURSOR_SECRET)


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
