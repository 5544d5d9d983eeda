"""Presence, reactions and moderation (contract: "Presence and reactions", `kick`): the checks the client makes
before it sends anything, so a bad name, an oversized `data` or a malformed reaction is a ValidationError naming
the field at once instead of a round trip (the server refuses the same), and the walk over `presence` pages.
The twin of the TypeScript client's `presence.ts` (its frames are declared here in `protocol`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable
from types import EllipsisType
from typing import Any

from .errors import ValidationError
from .protocol import PresenceEvent

NAME_MAX_CHARS = 64  # longest display name, in characters (code points)
PRESENCE_DATA_MAX_BYTES = 1024  # largest presence `data`, in bytes of its compact UTF-8 JSON
REACTION_MAX_CHARS = 32  # longest reaction word, in characters
REACTION_EMOJI_MAX_CHARS = 16  # longest emoji reaction, in code points (a family or a flag is several)
# A reaction word: 1 to 32 of [a-z0-9_:+-] (`clap`, `+1`, `hand:raised`).
REACTION_WORD_PATTERN = re.compile(r"^[a-z0-9_:+-]{1,32}$")
# An emoji as the server reads one: symbols, their modifiers (skin tones), combining marks (keycaps), the zero-width
# joiner and variation selectors; at least one symbol.
_EMOJI_CATEGORIES = frozenset({"So", "Sk", "Mn", "Me"})
_EMOJI_JOINERS = frozenset({"\u200d", "\ufe0e", "\ufe0f"})


def check_name(name: str) -> str:
    """A display name as the server takes it: 1 to 64 printable characters, not only spaces."""
    if not isinstance(name, str) or not 1 <= len(name) <= NAME_MAX_CHARS:
        length = len(name) if isinstance(name, str) else type(name).__name__
        raise ValidationError("name", f"must be 1 to {NAME_MAX_CHARS} characters (it has {length})")
    if not name.isprintable():
        raise ValidationError("name", "must not contain control or other non-printable characters")
    if not name.strip():
        raise ValidationError("name", "must contain a visible character")
    return name


def presence_data_json(data: Any) -> str:
    """`data` as the compact JSON it travels as (the TypeScript client's `JSON.stringify` form)."""
    return json.dumps(data, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def check_presence_data(data: Any) -> Any:
    """Presence data as the server takes it: JSON, at most PRESENCE_DATA_MAX_BYTES encoded."""
    try:
        text = presence_data_json(data)
    except (TypeError, ValueError) as error:
        raise ValidationError("data", f"must be JSON: {error}") from None
    size = len(text.encode())
    if size > PRESENCE_DATA_MAX_BYTES:
        raise ValidationError("data", f"is {size} bytes as JSON; at most {PRESENCE_DATA_MAX_BYTES}")
    return data


def _is_emoji(reaction: str) -> bool:
    if not 1 <= len(reaction) <= REACTION_EMOJI_MAX_CHARS:
        return False
    categories = [unicodedata.category(char) for char in reaction]
    made_of_parts = all(char in _EMOJI_JOINERS or unicodedata.category(char) in _EMOJI_CATEGORIES for char in reaction)
    return made_of_parts and "So" in categories


def check_reaction(reaction: str) -> str:
    """A reaction as the server takes it: an emoji (at most 16 code points), or 1 to 32 of [a-z0-9_:+-]."""
    if isinstance(reaction, str) and (REACTION_WORD_PATTERN.fullmatch(reaction) or _is_emoji(reaction)):
        return reaction
    raise ValidationError("reaction", f"must be an emoji or 1 to {REACTION_MAX_CHARS} of [a-z0-9_:+-]")


def presence_fields(
    *, channel: str | None | EllipsisType = ..., limit: int | None = None, cursor: str | None = None
) -> dict[str, Any]:
    """The `presence` action's fields as sent: those given (`channel=None` asks for the main stream's members;
    leaving it out asks for everyone's)."""
    fields: dict[str, Any] = {} if channel is ... else {"channel": channel}
    if limit is not None:
        fields["limit"] = limit
    if cursor is not None:
        fields["cursor"] = cursor
    return fields


async def presence_pages(
    ask: Callable[[str | None], Awaitable[PresenceEvent]], cursor: str | None = None
) -> AsyncIterator[PresenceEvent]:
    """Every page of `presence`, from the first (or `cursor`) to the last, each asked for when wanted."""
    while True:
        page = await ask(cursor)
        yield page
        cursor = page.get("nextCursor")
        if cursor is None:
            return
