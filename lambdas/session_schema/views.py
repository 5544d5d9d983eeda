"""The views of the records that both APIs send out, as pydantic models: one spelling of each shape.

The HTTP API answers with them (and documents them in `/openapi.json`); the WebSocket API's events carry
them (`session_runtime.events`, documented in `/asyncapi.json`). Each model is closed: a record's
`*_view()` that drifts from its model fails validation (a test, or a 500) instead of silently changing
what clients get.
"""

from __future__ import annotations

from typing import Literal, TypeAlias, get_args

from pydantic import BaseModel, ConfigDict, Field

from .status import ArtifactStatus, SessionStatus

# Spelled out so a type checker can read them; the checks below keep them equal to the enums, in order.
StatusValue: TypeAlias = Literal["active", "paused", "ended"]
ArtifactStatusValue: TypeAlias = Literal["pending", "processing", "completed", "failed"]
for _literal, _enum in ((StatusValue, SessionStatus), (ArtifactStatusValue, ArtifactStatus)):
    if get_args(_literal) != tuple(s.value for s in _enum):
        raise AssertionError(f"{get_args(_literal)} differs from {_enum.__name__}")


class View(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SessionPublicView(View):
    """What anyone may see of a session (`Session.public_view()`)."""

    sessionId: str
    title: str
    status: StatusValue
    listenerCount: int
    muted: bool
    createdAt: int
    maxListeners: int
    seq: int = Field(ge=0, description="the seq of the session's latest stream event; 0 before any")
    epoch: str = Field(description="the stream's epoch: a saved `seq` is only meaningful with the same epoch")


class SessionOwnerView(SessionPublicView):
    """What the owner sees (`Session.owner_view()`)."""

    ownerId: str
    sourceLanguage: str
    speakerConnected: bool
    updatedAt: int
    endedAt: int | None


class MessageView(View):
    """A stored message (`Message.view()`)."""

    messageId: str
    sessionId: str
    text: str
    createdAt: int


class ArtifactPublicView(View):
    """`Artifact.public_view()`: what every connection of the session may see (no storage path)."""

    artifactId: str
    sessionId: str
    kind: str
    contentType: str
    fileName: str
    status: ArtifactStatusValue
    error: str | None
    createdAt: int
    updatedAt: int
    processingStartedAt: int | None
    completedAt: int | None
    processingMs: int | None


class ErrorDetail(View):
    code: str = Field(description="VALIDATION_ERROR, UNAUTHORIZED, FORBIDDEN, SESSION_NOT_FOUND, ...")
    message: str
    requestId: str | None
    field: str | None = Field(None, description="the input at fault, when there is one")
    # INVALID_TRANSITION only: the status found and the status asked for.
    from_: str | None = Field(None, alias="from")
    to: str | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ErrorResponse(View):
    """Every error answer of the HTTP API, and the body of a refused WebSocket handshake."""

    error: ErrorDetail
