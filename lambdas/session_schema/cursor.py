"""Opaque pagination cursors.

A cursor is the key of the last item of a page, base64url-encoded. It is validated on the way back in:
it must have exactly the key attributes of the listing that issued it and point into the same partition,
so a tampered cursor is a clear VALIDATION_ERROR, never a 500 and never a view into someone else's data.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping

from .errors import InvalidCursor

MAX_CURSOR_LENGTH = 2048


def encode_cursor(key: Mapping[str, str]) -> str:
    raw = json.dumps(dict(sorted(key.items())), separators=(",", ":"), allow_nan=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


MAX_KEY_BYTES = 1024  # DynamoDB's limit for a sort key (a partition key may have 2048): a longer one is a 400 there


def decode_cursor(
    token: str,
    *,
    attributes: frozenset[str],
    partition: tuple[str, str],
    sort_prefix: tuple[str, str],
    sort_range: tuple[str, str] | None = None,
) -> dict[str, str]:
    """The key a cursor stands for, checked against the listing's key attributes and partition.

    `partition` is (attribute, the value this listing queries); `sort_prefix` is (attribute, prefix);
    `sort_range` (low, high), when the listing queries one: the key must lie inside it, since DynamoDB
    refuses an ExclusiveStartKey outside the key condition (a 500 if it got that far).
    """
    if not token or len(token) > MAX_CURSOR_LENGTH:
        raise InvalidCursor()
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise InvalidCursor() from None
    if not isinstance(decoded, dict) or set(decoded) != attributes:
        raise InvalidCursor()
    if not all(isinstance(v, str) and 0 < len(v.encode()) <= MAX_KEY_BYTES for v in decoded.values()):
        raise InvalidCursor()
    partition_attr, partition_value = partition
    sort_attr, prefix = sort_prefix
    if decoded[partition_attr] != partition_value or not decoded[sort_attr].startswith(prefix):
        raise InvalidCursor()
    if sort_range is not None and not sort_range[0] <= decoded[sort_attr] <= sort_range[1]:
        raise InvalidCursor()
    return decoded
