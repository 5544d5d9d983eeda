"""Request and response bodies of the artifact routes (same rules as schemas.py: strict, closed models).

The field rules (kind, contentType, fileName, error length) are the `Artifact` record's own, so a body
this API accepts is always one the store can write and `storage.artifact_object_key` can place.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from session_schema.artifact_kinds import ARTIFACT_CONTENT_TYPES, content_type_problem, kind_problem
from session_schema.json_types import INTEGRAL
from session_schema.models import ArtifactError, ArtifactKind, ContentType, FileName
from session_schema.views import ArtifactStatusValue, ArtifactView

from .schemas import Page, RequestBody, ResponseBody


class CreateArtifactRequest(RequestBody):
    # The document says what `_allowed_for_kind` enforces: each kind's own content types.
    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "if": {"properties": {"kind": {"const": kind}}},
                    "then": {"properties": {"contentType": {"enum": list(types)}}},
                }
                for kind, types in ARTIFACT_CONTENT_TYPES.items()
            ]
        }
    )

    kind: ArtifactKind = Field(
        description="what the file is: a path segment",
        json_schema_extra={"enum": list(ARTIFACT_CONTENT_TYPES)},
    )
    contentType: ContentType = Field(
        description="the MIME type the upload must be sent with; each kind allows its own: "
        + "; ".join(f"{kind}: {', '.join(types)}" for kind, types in ARTIFACT_CONTENT_TYPES.items())
    )
    fileName: FileName = Field(description="the file's name, kept as the last segment of the object key")
    sizeBytes: Annotated[int, Field(ge=1), INTEGRAL] | None = Field(
        None,
        description="optional: the exact size of the file. Given, the upload must be exactly this size and a size "
        "over MAX_UPLOAD_BYTES is refused here; omitted, the upload may be 1..MAX_UPLOAD_BYTES bytes",
    )

    @field_validator("kind")
    @classmethod
    def _declared_kind(cls, kind: str) -> str:
        problem = kind_problem(kind)
        if problem:
            raise ValueError(problem)
        return kind

    @field_validator("contentType")
    @classmethod
    def _allowed_for_kind(cls, content_type: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")  # absent when `kind` itself failed: that error is the one reported
        problem = content_type_problem(kind, content_type) if isinstance(kind, str) else None
        if problem:
            raise ValueError(problem)
        return content_type


class UpdateArtifactRequest(RequestBody):
    """A status change along `pending -> processing -> completed|failed`, `pending -> failed`."""

    # The document says what the validator below enforces: an `error` (not null) only with `status: failed`.
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"status": {"not": {"const": "failed"}}}},
            "then": {"properties": {"error": {"type": "null"}}},
        }
    )

    status: ArtifactStatusValue
    error: Annotated[ArtifactError, StringConstraints(min_length=1)] | None = Field(
        None, description="why processing failed; only with `status: failed`"
    )

    @field_validator("error")
    @classmethod
    def _only_when_failed(cls, error: str | None, info: ValidationInfo) -> str | None:
        if error is not None and info.data.get("status", "failed") != "failed":
            raise ValueError("is only allowed with status failed")
        return error


class UploadView(ResponseBody):
    """A presigned S3 POST: send `fields` (in this order) then the file as a `multipart/form-data` form to `url`."""

    method: Literal["POST"]
    url: str
    fields: dict[str, str] = Field(description="form fields to send before the file part (named `file`)")
    headers: dict[str, str] = Field(description="extra request headers (none: the form carries everything)")
    expiresAt: int = Field(description="epoch ms after which S3 refuses the upload")
    maxBytes: int = Field(description="largest accepted file (the exact size when `sizeBytes` was given)")


class CreatedArtifact(ResponseBody):
    artifact: ArtifactView
    upload: UploadView


class ArtifactPage(Page[ArtifactView]):
    pass
