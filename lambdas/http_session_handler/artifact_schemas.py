"""Request and response bodies of the artifact routes (same rules as schemas.py: strict, closed models).

The field rules (kind, contentType, fileName, error length) are the `Artifact` record's own, so a body
this API accepts is always one the store can write and `storage.artifact_object_key` can place.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from session_schema.artifact_kinds import ArtifactKinds
from session_schema.errors import ValidationFailed
from session_schema.json_types import INTEGRAL
from session_schema.models import ArtifactError, ArtifactKind, ContentType, FileName
from session_schema.views import ArtifactPublicView, ArtifactStatusValue, ArtifactView

from .schemas import Page, RequestBody, ResponseBody


class CreateArtifactRequest(RequestBody):
    # The kinds and each kind's content types are the deployment's (settings ARTIFACT_KINDS): the handler checks
    # them (`declared_kind_problem`) and the served document states them (openapi.py), not this class.
    kind: ArtifactKind = Field(description="what the file is: one of the deployment's declared kinds")
    contentType: ContentType = Field(description="the MIME type the upload must be sent with; each kind allows its own")
    fileName: FileName = Field(description="the file's name, kept as the last segment of the object key")
    sizeBytes: Annotated[int, Field(ge=1), INTEGRAL] | None = Field(
        None,
        description="optional: the exact size of the file. Given, the upload must be exactly this size and a size "
        "over the kind's maximum (MAX_UPLOAD_BYTES unless declared) is refused here; omitted, the upload may be 1 "
        "byte to that maximum",
    )


def declared_kind_problem(body: CreateArtifactRequest, kinds: ArtifactKinds) -> tuple[str, str] | None:
    """(field, why) when the deployment's declaration refuses the body's kind or its content type, else None."""
    problem = kinds.kind_problem(body.kind)
    if problem:
        return "kind", problem
    problem = kinds.content_type_problem(body.kind, body.contentType)
    return ("contentType", problem) if problem else None


def document_kinds(schema: dict[str, Any], kinds: ArtifactKinds) -> None:
    """State the deployment's kinds in the served `CreateArtifactRequest` schema: the kind enum, and per kind its
    content types, so a request generated from the document is one the API accepts."""
    schema["properties"]["kind"]["enum"] = kinds.names
    schema["allOf"] = [
        {
            "if": {"properties": {"kind": {"const": kind.name}}},
            "then": {"properties": {"contentType": {"enum": list(kind.contentTypes)}}},
        }
        for kind in kinds
    ]


_FINISHING = ("completed", "failed")  # the moves that may record `processor` and `processingMs`


class UpdateArtifactRequest(RequestBody):
    """A status change along `pending -> processing -> completed|failed`, `pending -> completed|failed`, and/or
    sharing the artifact with the session's listeners, and/or keeping it past the session's retention."""

    # The document says what the validators below enforce: `status` or `shared` (or both); an `error` (not null)
    # only with `status: failed`; `processor` and `processingMs` only with `status: completed` or `failed`.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [{"required": ["status"]}, {"required": ["shared"]}, {"required": ["keep"]}],
            "allOf": [
                {
                    "if": {"not": {"required": ["status"], "properties": {"status": {"const": "failed"}}}},
                    "then": {"properties": {"error": {"type": "null"}}},
                },
                {
                    "if": {"not": {"required": ["status"], "properties": {"status": {"enum": list(_FINISHING)}}}},
                    "then": {"properties": {"processor": {"type": "null"}, "processingMs": {"type": "null"}}},
                },
            ],
        }
    )

    status: ArtifactStatusValue | None = Field(None, description="the lifecycle move (none: sharing alone)")
    shared: bool | None = Field(
        None,
        description="`true`: listeners see the artifact's public view and may download it while the session is "
        "joinable; `false`: only its ID and status",
    )
    keep: bool | None = Field(
        None,
        description="`true`: the artifact and its whole tree (its root and every result: none is left without "
        "its parent) outlive the session's retention (ENDED_SESSION_TTL_DAYS after it ended); the session then "
        "stays, holding only its kept trees, until `DELETE /sessions/{sessionId}/data`",
    )
    error: Annotated[ArtifactError, StringConstraints(min_length=1)] | None = Field(
        None, description="why processing failed; only with `status: failed`"
    )

    processor: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        None, description="what processed it (a pipeline, a model ID); only with `status: completed` or `failed`"
    )
    processingMs: Annotated[int, Field(ge=0), INTEGRAL] | None = Field(
        None,
        description="how long processing took, as the processor measured it (else the time since `processing`); "
        "only with `status: completed` or `failed`",
    )

    @model_validator(mode="after")
    def _status_or_shared(self) -> UpdateArtifactRequest:
        if self.status is None and self.shared is None and self.keep is None:
            raise ValidationFailed("status", "give `status`, `shared`, `keep` or several")
        return self

    @field_validator("error")
    @classmethod
    def _only_when_failed(cls, error: str | None, info: ValidationInfo) -> str | None:
        if error is not None and info.data.get("status") != "failed":
            raise ValueError("is only allowed with status failed")
        return error

    @field_validator("processor", "processingMs")
    @classmethod
    def _only_when_finishing(cls, value: object, info: ValidationInfo) -> object:
        if value is not None and info.data.get("status") not in _FINISHING:
            raise ValueError("is only allowed with status completed or failed")
        return value

    def facts(self) -> dict[str, object]:
        """What this change records besides the status move (none given: none)."""
        given = {
            "processor": self.processor,
            "processingMs": self.processingMs,
            "shared": self.shared,
            "keep": self.keep,
        }
        return {name: value for name, value in given.items() if value is not None}


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


class SharedArtifactPage(Page[ArtifactPublicView]):
    """The shared artifacts, as a listener sees them (no storage path)."""


class ArtifactDownload(ResponseBody):
    """A presigned S3 GET of the artifact's object."""

    url: str
    expiresAt: int = Field(description="epoch ms after which S3 refuses the URL")


class DeletionUnderway(ResponseBody):
    """A DELETE that removed part of a large subtree: repeat it to delete the rest (the artifact goes last)."""

    deleted: int = Field(description="results (their records and objects) deleted by this request")
    objectsDeleted: int = Field(description="objects under the artifact's prefix deleted by this request")
