"""Typed path, query and header inputs shared by the route modules."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query

from session_schema.cursor import MAX_CURSOR_LENGTH
from session_schema.errors import ValidationFailed
from session_schema.ids import SESSION_ID_INPUT_PATTERN, normalize_session_id
from session_schema.models import EPOCH_MS_LIMIT, IDEMPOTENCY_KEY_PATTERN

from .schemas import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

SessionIdPath = Annotated[
    str,
    Path(
        # Documented, and enforced by `session_id()` below with the same regex on the decoded segment (it also
        # bounds the length). A Powertools `pattern` or `max_length` would test the raw segment, where
        # `Quiet%20River%20482` is still percent-encoded.
        json_schema_extra={"pattern": SESSION_ID_INPUT_PATTERN},
        description="`adjective-noun-NNN`; typed forms like `Quiet River 482` are normalized",
    ),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"page size, 1..{MAX_PAGE_SIZE}")]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=MAX_CURSOR_LENGTH, description="`nextCursor` of the previous page"),
]
SharedOnly = Annotated[
    bool, Query(description="`true`: only the artifacts shared with listeners (anyone may list them while joinable)")
]
Since = Annotated[int, Query(ge=0, lt=EPOCH_MS_LIMIT, description="only messages created after this time (epoch ms)")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="repeat a create safely: the same key and body return the same session",
    ),
]

DEFAULT_LIMIT = DEFAULT_PAGE_SIZE


def session_id(raw: str) -> str:
    """The canonical session ID of a path segment, or 400 VALIDATION_ERROR naming `sessionId`."""
    normalized = normalize_session_id(unquote(raw))
    if normalized is None:
        raise ValidationFailed("sessionId", "is not a session ID (adjective-noun-NNN, e.g. quiet-river-482)")
    return normalized
