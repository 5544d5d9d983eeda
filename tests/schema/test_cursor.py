"""Sealed cursors (session_schema/cursor.py): what a listing seals opens back to the same key, for that listing
only, under that key only; a client can neither read the table's layout from one nor make or alter one."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from session_schema.cursor import MAX_KEY_BYTES, CursorSeal, decode_cursor, encode_cursor
from session_schema.errors import InvalidCursor

SECRET = "s" * 40
ATTRIBUTES = frozenset({"PK", "SK"})
PARTITION = ("PK", "SESSION#quiet-river-482")
MESSAGES = ("SK", "MSG#")

key_values = st.text(min_size=1, max_size=60).filter(lambda v: len(v.encode()) <= MAX_KEY_BYTES)


def sealed(key: dict[str, str], seal: CursorSeal | None = None) -> str:
    return encode_cursor(seal or CursorSeal.from_secret(SECRET), key, partition=PARTITION, sort_prefix=MESSAGES)


def opened(token: str, seal: CursorSeal | None = None, partition: tuple[str, str] = PARTITION) -> dict[str, str]:
    seal = seal or CursorSeal.from_secret(SECRET)
    return decode_cursor(seal, token, attributes=ATTRIBUTES, partition=partition, sort_prefix=MESSAGES)


@given(sort_key=key_values)
def test_a_sealed_key_opens_to_itself_and_shows_none_of_it(sort_key):
    key = {"PK": PARTITION[1], "SK": "MSG#" + sort_key}
    token = sealed(key)
    assert opened(token) == key
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for shown in ("SESSION#", "MSG#", "quiet-river"):  # (long enough not to turn up in random bytes by chance)
        assert shown.encode() not in raw and shown not in token
    assert sealed(key) != token  # a fresh nonce each time: equal keys are not even linkable


@given(position=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_altered_byte_is_refused(position, flip):
    token = sealed({"PK": PARTITION[1], "SK": "MSG#1700000000000#m1"})
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[position % len(raw)] ^= flip
    with pytest.raises(InvalidCursor):
        opened(base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("="))


def test_garbage_truncated_legacy_and_oversized_cursors_are_refused():
    token = sealed({"PK": PARTITION[1], "SK": "MSG#1700000000000#m1"})
    legacy = base64.urlsafe_b64encode(b'{"PK":"SESSION#quiet-river-482","SK":"MSG#1"}').decode().rstrip("=")
    for bad in ("", "garbage!", "e30", token[:-1], token[:20], token + "AA", legacy, "A" * 3000):
        with pytest.raises(InvalidCursor):
            opened(bad)


def test_a_cursor_under_another_key_is_refused_as_forged_or_stale():
    key = {"PK": PARTITION[1], "SK": "MSG#1700000000000#m1"}
    forged = sealed(key, CursorSeal.from_secret("f" * 40))  # a client's guess, or the key before a rotation
    with pytest.raises(InvalidCursor):
        opened(forged)


def test_a_cursor_opens_only_for_the_listing_and_partition_it_was_issued_for():
    token = sealed({"PK": PARTITION[1], "SK": "MSG#1700000000000#m1"})
    with pytest.raises(InvalidCursor):
        opened(token, partition=("PK", "SESSION#other-river-111"))
    with pytest.raises(InvalidCursor):
        decode_cursor(
            CursorSeal.from_secret(SECRET),
            token,
            attributes=ATTRIBUTES,
            partition=PARTITION,
            sort_prefix=("SK", "ART#"),
        )


def test_what_opens_is_still_checked_against_the_listing():
    # Sealed by the key holder, yet outside the listing's prefix: refused before DynamoDB would 500 on it.
    with pytest.raises(InvalidCursor):
        opened(sealed({"PK": PARTITION[1], "SK": "ART#1"}))


def test_the_secret_is_read_once_on_first_use_and_must_be_long_enough():
    reads: list[int] = []

    def load() -> str:
        reads.append(1)
        return SECRET

    seal = CursorSeal(load)
    assert reads == []  # building a store's seal reads nothing: a function that never pages never asks
    key = {"PK": PARTITION[1], "SK": "MSG#1"}
    opened(sealed(key, seal), seal)
    assert reads == [1]
    with pytest.raises(ValueError, match="at least 32"):
        sealed(key, CursorSeal.from_secret("short"))
