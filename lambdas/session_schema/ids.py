"""Human-readable session IDs (`adjective-noun-NNN`) and the time-sortable IDs of other records.

Uniqueness is not decided here: the store puts a new session conditionally and asks for another ID on
a collision. This module only makes candidates that are pleasant to read aloud.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from functools import lru_cache
from pathlib import Path

SESSION_ID_PATTERN = r"^[a-z]{3,8}-[a-z]{3,8}-[0-9]{3}$"
_SESSION_ID_RE = re.compile(SESSION_ID_PATTERN)
# What a person may type for an ID: the canonical form, or `Quiet River 482`, ` quiet_river_482 `. Written
# for both Python and ECMAScript regexes (the JSON Schema `pattern` of the documents): no `\s`, no flags.
# Runs of blanks are bounded, so the pattern alone bounds the length (at most 51 characters).
SESSION_ID_INPUT_PATTERN = r"^[ \t]{0,8}[A-Za-z]{3,8}(?:-|[ \t_]{1,8})[A-Za-z]{3,8}(?:-|[ \t_]{1,8})[0-9]{3}[ \t]{0,8}$"
_SESSION_ID_INPUT_RE = re.compile(SESSION_ID_INPUT_PATTERN)
_WORDS = Path(__file__).with_name("words")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _read_words(name: str) -> tuple[str, ...]:
    lines = (_WORDS / name).read_text(encoding="utf-8").splitlines()
    return tuple(w.strip() for w in lines if w.strip() and not w.startswith("#"))


@lru_cache(maxsize=1)
def word_lists() -> tuple[tuple[str, ...], tuple[str, ...]]:
    blocked = blocklist()
    adjectives = tuple(w for w in _read_words("adjectives.txt") if w not in blocked)
    nouns = tuple(w for w in _read_words("nouns.txt") if w not in blocked)
    return adjectives, nouns


@lru_cache(maxsize=1)
def blocklist() -> frozenset[str]:
    return frozenset(_read_words("blocklist.txt"))


def id_space_size() -> int:
    adjectives, nouns = word_lists()
    return len(adjectives) * len(nouns) * 1000


def is_blocked(session_id: str) -> bool:
    adjective, noun, number = session_id.split("-")
    blocked = blocklist()
    return bool({adjective, noun, number, f"{adjective}-{noun}"} & blocked)


def new_session_id(rand: secrets.SystemRandom | None = None) -> str:
    """A random `adjective-noun-NNN` that is not on the blocklist."""
    rng = rand or secrets.SystemRandom()
    adjectives, nouns = word_lists()
    while True:
        candidate = f"{rng.choice(adjectives)}-{rng.choice(nouns)}-{rng.randrange(1000):03d}"
        if not is_blocked(candidate):
            return candidate


def normalize_session_id(raw: str) -> str | None:
    """The canonical form of an ID a person typed (`Quiet River 482` -> `quiet-river-482`), or None.

    Accepted is exactly what SESSION_ID_INPUT_PATTERN (the APIs' documented `pattern`) matches: ASCII
    letters, words split by one `-` or by spaces, tabs and underscores, spaces around it.
    """
    if not _SESSION_ID_INPUT_RE.fullmatch(raw):
        return None
    return re.sub(r"[ \t_]+", "-", raw.strip(" \t").lower())


def is_session_id(value: str) -> bool:
    return bool(_SESSION_ID_RE.fullmatch(value))


def new_record_id(prefix: str, now_ms: int | None = None) -> str:
    """`<prefix>_<26 chars>`: 10 chars of millisecond time then 16 random, so IDs sort by creation."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    time_part = "".join(_CROCKFORD[(ms >> shift) & 31] for shift in range(45, -1, -5))
    random_part = "".join(_CROCKFORD[b & 31] for b in os.urandom(16))
    return f"{prefix}_{time_part}{random_part}"


EPOCH_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"


def new_epoch() -> str:
    """A fresh stream epoch: a session's saved `seq` is only meaningful with the epoch it was read in."""
    return secrets.token_urlsafe(6)


def legacy_epoch(session_id: str, created_at: int) -> str:
    """The epoch of a session stored before epochs existed: derived, so every read gives the same one."""
    return "L" + hashlib.sha256(f"{session_id}#{created_at}".encode()).hexdigest()[:10]
