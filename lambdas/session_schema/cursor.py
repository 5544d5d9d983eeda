"""Opaque pagination cursors: the key of a page's last item, sealed.

A cursor is sealed with AES-256-GCM (authenticated encryption, from `cryptography`, which the Lambda layer
already carries for the token verifier) under a key derived from the deployment's cursor secret (the
CURSOR_KEY_SECRET setting). So a client can neither read the table's layout from a cursor nor make or alter
one: opening checks the tag. The listing and partition a cursor was issued for are its associated data, so
one listing's cursor does not open on another's. Whatever does not open (garbage, truncated, forged, or sealed
under a key since replaced) is InvalidCursor: a 400 VALIDATION_ERROR naming `cursor`, never a 500.

What opens is still checked against the listing that reads it (attributes, partition, range): a cursor issued
for one `since` can lie outside another's range, which DynamoDB would refuse with a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .errors import InvalidCursor

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAX_CURSOR_LENGTH = 2048
MAX_KEY_BYTES = 1024  # DynamoDB's limit for a sort key (a partition key may have 2048): a longer one is a 400 there
MIN_SECRET_LENGTH = 32  # characters of the secret the key is derived from (the stack generates 64)

_VERSION = b"\x01"  # the first byte of every sealed cursor: a later format can tell its own from these
_NONCE_BYTES = 12  # AES-GCM's standard nonce, random per cursor
_TAG_BYTES = 16
_KDF_INFO = b"live-sessions pagination cursor v1"


class CursorSeal:
    """Seals listing keys into cursors and opens them, under one key loaded on first use.

    `load_secret` is called once, when a cursor is first sealed or opened: a function that never pages never
    reads the secret (nor needs the permission to).
    """

    def __init__(self, load_secret: Callable[[], str]) -> None:
        self._load_secret = load_secret
        self._aead: AESGCM | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_secret(cls, secret: str) -> CursorSeal:
        return cls(lambda: secret)

    def _cipher(self) -> AESGCM:
        # cryptography is imported here, on the first cursor: not at every cold start (tests/runtime/test_tracing.py).
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        with self._lock:
            if self._aead is None:
                secret = self._load_secret()
                if len(secret) < MIN_SECRET_LENGTH:
                    raise ValueError(f"the cursor secret must have at least {MIN_SECRET_LENGTH} characters")
                hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KDF_INFO)
                self._aead = AESGCM(hkdf.derive(secret.encode()))
            return self._aead

    def seal(self, key: Mapping[str, str], *, listing: str) -> str:
        # The values alone, in attribute order: the listing that opens it knows the names.
        plain = json.dumps([key[name] for name in sorted(key)], separators=(",", ":")).encode()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = _VERSION + nonce + self._cipher().encrypt(nonce, plain, listing.encode())
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, token: str, *, attributes: frozenset[str], listing: str) -> dict[str, str]:
        """The key sealed in `token` for `listing`, or InvalidCursor."""
        if not token or len(token) > MAX_CURSOR_LENGTH:
            raise InvalidCursor()
        try:
            sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise InvalidCursor() from None
        if len(sealed) < 1 + _NONCE_BYTES + _TAG_BYTES or sealed[:1] != _VERSION:
            raise InvalidCursor()
        from cryptography.exceptions import InvalidTag

        nonce, body = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            values = json.loads(self._cipher().decrypt(nonce, body, listing.encode()))
        except (InvalidTag, ValueError):
            raise InvalidCursor() from None
        names = sorted(attributes)
        if not isinstance(values, list) or len(values) != len(names):
            raise InvalidCursor()
        return dict(zip(names, values, strict=True))


def listing_of(partition: tuple[str, str], sort_prefix: tuple[str, str]) -> str:
    """The associated data a cursor is sealed with: which listing (its sort prefix) of which partition."""
    return f"{sort_prefix[0]}={sort_prefix[1]} {partition[0]}={partition[1]}"


def encode_cursor(
    seal: CursorSeal, key: Mapping[str, str], *, partition: tuple[str, str], sort_prefix: tuple[str, str]
) -> str:
    return seal.seal(key, listing=listing_of(partition, sort_prefix))


def decode_cursor(
    seal: CursorSeal,
    token: str,
    *,
    attributes: frozenset[str],
    partition: tuple[str, str],
    sort_prefix: tuple[str, str],
    sort_range: tuple[str, str] | None = None,
) -> dict[str, str]:
    """The key a cursor stands for, opened for this listing and checked against its key attributes and partition.

    `partition` is (attribute, the value this listing queries); `sort_prefix` is (attribute, prefix);
    `sort_range` (low, high), when the listing queries one: the key must lie inside it, since DynamoDB
    refuses an ExclusiveStartKey outside the key condition (a 500 if it got that far).
    """
    decoded = seal.open(token, attributes=attributes, listing=listing_of(partition, sort_prefix))
    return _checked_key(decoded, partition=partition, sort_prefix=sort_prefix, sort_range=sort_range)


def _checked_key(
    decoded: dict[str, str],
    *,
    partition: tuple[str, str],
    sort_prefix: tuple[str, str],
    sort_range: tuple[str, str] | None = None,
) -> dict[str, str]:
    """`decoded` if it is a key DynamoDB accepts as this listing's ExclusiveStartKey, else InvalidCursor."""
    if not all(isinstance(v, str) and 0 < len(v.encode()) <= MAX_KEY_BYTES for v in decoded.values()):
        raise InvalidCursor()
    partition_attr, partition_value = partition
    sort_attr, prefix = sort_prefix
    if decoded[partition_attr] != partition_value or not decoded[sort_attr].startswith(prefix):
        raise InvalidCursor()
    if sort_range is not None and not sort_range[0] <= decoded[sort_attr] <= sort_range[1]:
        raise InvalidCursor()
    return decoded
