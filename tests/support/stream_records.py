"""Synthetic DynamoDB stream records, in the shape Lambda's event source mapping hands them to a function,
built from records through the codec (or from raw items, for legacy shapes); and the check that an event
the lifecycle function put matches the published JSON Schema of its detail-type."""

from __future__ import annotations

import itertools
import json
from typing import Any

from jsonschema import Draft202012Validator

from session_schema import codec
from session_schema.lifecycle import SOURCE, TTL_PRINCIPAL, detail_schemas
from session_schema.models import Record

_sequence = itertools.count(100_000_000_000_000_000_000)
NOW_S = 1_760_000_000.0  # the stream record's ApproximateCreationDateTime (epoch seconds, as Lambda sends it)


def stream_record(
    old: Record | dict[str, Any] | None,
    new: Record | dict[str, Any] | None,
    *,
    ttl: bool = False,
    at: float = NOW_S,
) -> dict[str, Any]:
    """One record of the table's stream (NEW_AND_OLD_IMAGES) for a change from `old` to `new` (None: absent)."""

    def image(value: Record | dict[str, Any]) -> dict[str, Any]:
        return codec.encode(value) if isinstance(value, Record) else dict(value)

    before, after = (image(v) if v is not None else None for v in (old, new))
    either = after if after is not None else before
    assert either is not None
    name = "INSERT" if before is None else "REMOVE" if after is None else "MODIFY"
    stream: dict[str, Any] = {
        "ApproximateCreationDateTime": at,
        "Keys": {"PK": either["PK"], "SK": either["SK"]},
        "SequenceNumber": str(next(_sequence)),
        "SizeBytes": 100,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if after is not None:
        stream["NewImage"] = after
    if before is not None:
        stream["OldImage"] = before
    record: dict[str, Any] = {
        "eventID": f"{next(_sequence):x}",
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": stream,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2025-01-01T00:00:00.000",
    }
    if ttl:
        record["userIdentity"] = {"type": "Service", "principalId": TTL_PRINCIPAL}
    return record


_VALIDATORS = {name: Draft202012Validator(schema) for name, schema in detail_schemas()["detailTypes"].items()}


def assert_matches_schema(detail_type: str, detail: dict[str, Any] | str) -> dict[str, Any]:
    """The detail (an object, or its JSON text) validated against its detail-type's published schema."""
    document = json.loads(detail) if isinstance(detail, str) else detail
    errors = sorted(_VALIDATORS[detail_type].iter_errors(document), key=lambda e: list(e.path))
    assert not errors, f"{detail_type}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors)
    return document


def assert_envelope_matches(envelope: dict[str, Any]) -> dict[str, Any]:
    """An EventBridge event as a target receives it (`source`, `detail-type`, `detail`, ...)."""
    assert envelope["source"] == SOURCE
    return assert_matches_schema(envelope["detail-type"], envelope["detail"])
