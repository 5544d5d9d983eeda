"""The views of the records that both APIs send out, as pydantic models: one spelling of each shape.

The HTTP API answers with them (and documents them in `/openapi.json`); the WebSocket API's events carry
them (`session_protocol.events`, documented in `/asyncapi.json`). Each record view is derived from its record
(`PUBLIC_FIELDS` / `OWNER_FIELDS` and the fields' own types, constraints and descriptions), so a field is
declared once, in models.py, and named there to be shown. Each model is closed: a view that drifts from its
model fails validation (a test, or a 500) instead of silently changing what clients get.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, get_args, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from .models import Artifact, Message, Record, Session
from .status import ArtifactStatus, SessionStatus

# Spelled out so a type checker can read them; the checks below keep them equal to the enums, in order.
StatusValue: TypeAlias = Literal["active", "paused", "ended"]
ArtifactStatusValue: TypeAlias = Literal["pending", "processing", "completed", "failed"]
for _literal, _enum in ((StatusValue, SessionStatus), (ArtifactStatusValue, ArtifactStatus)):
    if get_args(_literal) != tuple(s.value for s in _enum):
        raise AssertionError(f"{get_args(_literal)} differs from {_enum.__name__}")


class View(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _wire_type(annotation: Any) -> Any:
    """What a field's type is once sent: an enum is its values (a view carries `status.value`)."""
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return Literal[tuple(member.value for member in annotation)]
    return annotation


def derive_view(model: type[Record], names: tuple[str, ...], *, name: str, doc: str) -> type[View]:
    """The view model of `names` of a record: each field with the record's own type, constraints and description,
    required (a view always carries every field); a name that is a property of the record takes its return type
    and docstring. The record's `view_of(names)` builds the answer this model checks."""
    definitions: dict[str, Any] = {}
    for field_name in names:
        info = model.model_fields.get(field_name) if field_name not in model.SHOWN_AS else None
        if info is None:
            getter = getattr(model, model.SHOWN_AS.get(field_name, field_name)).fget
            definitions[field_name] = (get_type_hints(getter)["return"], Field(description=getter.__doc__))
            continue
        annotation = _wire_type(info.annotation)
        if info.metadata:
            annotation = Annotated[(annotation, *info.metadata)]
        definitions[field_name] = (
            annotation,
            Field(description=info.description, json_schema_extra=info.json_schema_extra),
        )
    return create_model(name, __base__=View, __doc__=doc, __module__=__name__, **definitions)


if TYPE_CHECKING:  # the derived models, as the type checker sees them

    class SessionPublicView(View): ...

    class SessionOwnerView(View): ...

    class MessageView(View): ...

    class ArtifactPublicView(View): ...

    class ArtifactView(View): ...

    class ArtifactGlimpse(View): ...

else:
    SessionPublicView = derive_view(
        Session, Session.PUBLIC_FIELDS, name="SessionPublicView", doc="What anyone may see of a session."
    )
    SessionOwnerView = derive_view(
        Session, Session.OWNER_FIELDS, name="SessionOwnerView", doc="What the owner sees of a session."
    )
    MessageView = derive_view(Message, Message.PUBLIC_FIELDS, name="MessageView", doc="A stored message.")
    ArtifactPublicView = derive_view(
        Artifact,
        Artifact.PUBLIC_FIELDS,
        name="ArtifactPublicView",
        doc="What every connection of the session may see of an artifact (no storage path).",
    )
    ArtifactView = derive_view(
        Artifact, Artifact.OWNER_FIELDS, name="ArtifactView", doc="What the owner sees of an artifact."
    )
    ArtifactGlimpse = derive_view(
        Artifact,
        Artifact.GLIMPSE_FIELDS,
        name="ArtifactGlimpse",
        doc="What a listener sees of an artifact its owner has not shared (`shared: false`).",
    )


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
