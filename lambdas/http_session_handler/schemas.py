"""The HTTP API's request and response bodies, as pydantic models (validation and the OpenAPI document).

Request bodies are strict and closed: a wrong JSON type or an unknown field is a VALIDATION_ERROR naming
the field, never a coercion. Lengths and patterns come from the session schema's records, so a body this
API accepts is always one the store can write. Response models are closed too: a view that drifts from its
model fails response validation (a 500 in tests) instead of silently dropping or adding a field.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from session_schema.models import (
    MESSAGE_TEXT_MAX,
    TITLE_MAX,
    IdempotencyRecord,
    Session,
)
from session_schema.status import SessionStatus
from session_schema.store import MAX_PAGE

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = MAX_PAGE  # the store's own page cap is the largest limit a listing accepts
MAX_SESSION_ID_INPUT = 64  # a typed ID ("Quiet River 482") before normalization

# Reuse the constraints the records themselves carry: one spelling of each rule.
_SOURCE_LANGUAGE_PATTERN = next(
    m.pattern for m in Session.model_fields["sourceLanguage"].metadata if getattr(m, "pattern", None)
)
IDEMPOTENCY_KEY_PATTERN = next(
    m.pattern for m in IdempotencyRecord.model_fields["key"].metadata if getattr(m, "pattern", None)
)

Title = Annotated[str, StringConstraints(max_length=TITLE_MAX)]
SourceLanguage = Annotated[str, StringConstraints(pattern=_SOURCE_LANGUAGE_PATTERN, max_length=64)]
# Spelled out so a type checker can read it; the check below keeps it equal to the enum, in the enum's order.
StatusValue: TypeAlias = Literal["active", "paused", "ended"]
if get_args(StatusValue) != tuple(s.value for s in SessionStatus):
    raise AssertionError(f"StatusValue {get_args(StatusValue)} differs from SessionStatus")


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ResponseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ requests


class CreateSessionRequest(RequestBody):
    """Every field is optional; an empty body (or none) creates a session with the defaults."""

    title: Title | None = Field(None, description=f"shown to listeners; up to {TITLE_MAX} characters")
    sourceLanguage: SourceLanguage | None = Field(None, description="BCP 47 language tag, default `en`")
    maxListeners: Annotated[int, Field(ge=1)] | None = Field(
        None, description="1..MAX_LISTENERS_LIMIT (a deployment setting); default DEFAULT_MAX_LISTENERS"
    )


class UpdateSessionRequest(RequestBody):
    """At least one field. A status change is a transition (`active <-> paused`, `-> ended`)."""

    status: StatusValue | None = None
    title: Title | None = None
    muted: bool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> UpdateSessionRequest:
        if self.status is None and self.title is None and self.muted is None:
            raise ValueError("give at least one of status, title, muted")
        return self


class PostMessageRequest(RequestBody):
    text: Annotated[str, StringConstraints(min_length=1, max_length=MESSAGE_TEXT_MAX)]


# ------------------------------------------------------------------ responses


class SessionPublicView(ResponseBody):
    """What anyone may see of a session (`Session.public_view()`)."""

    sessionId: str
    title: str
    status: StatusValue
    listenerCount: int
    muted: bool
    createdAt: int


class SessionOwnerView(SessionPublicView):
    """What the owner sees (`Session.owner_view()`)."""

    ownerId: str
    sourceLanguage: str
    maxListeners: int
    speakerConnected: bool
    updatedAt: int
    endedAt: int | None


class SessionPage(ResponseBody):
    items: list[SessionOwnerView]
    nextCursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class MessageView(ResponseBody):
    messageId: str
    sessionId: str
    text: str
    createdAt: int


class MessagePage(ResponseBody):
    items: list[MessageView]
    nextCursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


class Health(ResponseBody):
    status: Literal["ok", "unavailable"]


class ErrorDetail(ResponseBody):
    code: str = Field(description="VALIDATION_ERROR, UNAUTHORIZED, FORBIDDEN, SESSION_NOT_FOUND, ...")
    message: str
    requestId: str | None
    field: str | None = Field(None, description="the input at fault, when there is one")
    # INVALID_TRANSITION only: the status found and the status asked for.
    from_: str | None = Field(None, alias="from")
    to: str | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ErrorResponse(ResponseBody):
    error: ErrorDetail
