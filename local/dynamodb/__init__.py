"""DynamoDB (and S3) for the local stack: the embedded moto server in its own process, or another
DynamoDB endpoint; the table and the bucket; the patches that keep moto's cost off the table's size.

Entry points for the rest of `local/` are `__all__`; the modules are this service's internals:
`backend` (endpoints, access, the embedded moto, table and bucket), `moto_process` (the server's own
process), `moto_query` / `moto_transactions` / `moto_idempotency` / `moto_json` / `moto_memory` (the patches),
`keep_alive` (its connections kept open between requests), `atomic_moto` and
`serialize` (moto made atomic in one process, for the tests and the benches).
"""

from __future__ import annotations

from .atomic_moto import make_moto_dynamodb_atomic
from .backend import (
    FAKE_CREDENTIALS,
    REGION,
    DynamoDbAccess,
    EmbeddedMoto,
    client,
    dynamodb_access,
    ensure_bucket,
    ensure_table,
    is_loopback,
)

__all__ = [
    "FAKE_CREDENTIALS",
    "REGION",
    "DynamoDbAccess",
    "EmbeddedMoto",
    "client",
    "dynamodb_access",
    "ensure_bucket",
    "ensure_table",
    "is_loopback",
    "make_moto_dynamodb_atomic",
]
