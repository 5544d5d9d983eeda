"""Artifact routes: a presigned upload under the session's one storage prefix, the owner's listing, status
changes told to connected clients, and delete.

Rules:

- Owner only. Another user's session is FORBIDDEN for the writes (POST, PATCH, DELETE) and
  SESSION_NOT_FOUND for the listing (a private view); an unknown session is SESSION_NOT_FOUND.
- Allowed whatever the session's status: a recording is often uploaded, processed and read after the
  session has ended, so artifacts of an ended session can still be created, changed, listed and deleted.
- The object key is `storage.artifact_object_key(ownerId, sessionId, kind, artifactId, fileName)`, built
  once at create and kept on the record (`objectKey`); every later use reads it from there.
- The upload is a presigned S3 POST, not a PUT: its signed policy pins the exact key, the declared
  `Content-Type` and a `content-length-range` (1..MAX_UPLOAD_BYTES, or exactly `sizeBytes` when given), and
  it expires after UPLOAD_URL_EXPIRY_SECONDS. A presigned PUT cannot bound the size of what is sent.
- Status moves follow `pending -> processing -> completed|failed`, `pending -> failed` (409
  INVALID_TRANSITION naming both states otherwise, also for a repeat of the same state); `error` is only
  accepted with `failed`. Each change is sent to every connection of the session as `artifactUpdated`,
  after the write (a failed send is logged and counted, never turned into an error answer).
- DELETE removes the stored object, then the record; deleting again (or an unknown artifact of an
  existing session) is 204 again, so a client can retry a delete that timed out.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.metrics import MetricUnit

from session_runtime import use_cases
from session_runtime.observability import logger, metrics
from session_runtime.runtime import get_runtime
from session_schema.errors import ValidationFailed
from session_schema.models import ARTIFACT_ID_PATTERN
from session_schema.status import ArtifactStatus
from session_schema.views import ArtifactView

from .artifact_schemas import (
    ArtifactPage,
    CreateArtifactRequest,
    CreatedArtifact,
    UpdateArtifactRequest,
)
from .identity import HttpCaller, owned_session, readable_session, signed_in
from .params import DEFAULT_LIMIT, Cursor, Limit, SessionIdPath
from .routing import answer_as, api_route

router = Router()
TAGS = ["artifacts"]

ArtifactIdPath = Annotated[str, Path(pattern=ARTIFACT_ID_PATTERN, description="`art_` and 26 characters")]


@api_route(
    router,
    "POST /sessions/{sessionId}/artifacts",
    summary="Register an artifact and get a presigned upload for it",
    status=201,
    model=CreatedArtifact,
    errors=(403, 404, 415),
    tags=TAGS,
    description=(
        "Owner only; allowed on ended sessions too (recordings are often uploaded after the end). Creates the "
        "artifact with status `pending` and answers a presigned S3 POST (`upload`) for the key "
        "`<ownerId>/<sessionId>/<kind>/<artifactId>/<fileName>`: send `upload.fields`, then the file as the "
        "`file` part, as multipart/form-data to `upload.url` before `upload.expiresAt`. S3 refuses another "
        "key, another Content-Type than `contentType`, an empty file, and one over `upload.maxBytes`."
    ),
)
def create_artifact(
    sessionId: SessionIdPath,  # noqa: N803 - the path parameter's name
    body: CreateArtifactRequest,
    caller: Annotated[HttpCaller, Depends(signed_in)],
) -> Response[CreatedArtifact]:
    runtime = get_runtime()
    settings = runtime.settings
    if body.sizeBytes is not None and body.sizeBytes > settings.max_upload_bytes:
        raise ValidationFailed("sizeBytes", f"must be at most {settings.max_upload_bytes} bytes")
    session = owned_session(sessionId, caller)
    artifact, upload = use_cases.create_artifact(
        runtime,
        session,
        kind=body.kind,
        content_type=body.contentType,
        file_name=body.fileName,
        size_bytes=body.sizeBytes,
    )
    metrics.add_metric(name="ArtifactCreated", unit=MetricUnit.Count, value=1)
    logger.info(
        "artifact created", extra={"artifactId": artifact.artifactId, "kind": body.kind, "ended": not session.joinable}
    )
    return Response(
        status_code=201,
        content_type=content_types.APPLICATION_JSON,
        body=answer_as(CreatedArtifact, {"artifact": artifact.view(), "upload": upload}),
    )


@api_route(
    router,
    "GET /sessions/{sessionId}/artifacts",
    summary="A session's artifacts, newest first",
    model=ArtifactPage,
    errors=(404,),
    tags=TAGS,
    description=(
        "Owner only (another user's session answers 404 SESSION_NOT_FOUND, as any private view); an ended "
        "session's artifacts stay readable. Paginated like `GET /sessions`."
    ),
)
def list_artifacts(
    sessionId: SessionIdPath,  # noqa: N803
    caller: Annotated[HttpCaller, Depends(signed_in)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ArtifactPage:
    sid = readable_session(sessionId, caller, owner_only=True).sessionId  # an ended session's artifacts too
    page = get_runtime().store.list_artifacts(sid, limit=limit, cursor=cursor)
    return answer_as(ArtifactPage, {"items": [a.view() for a in page.items], "nextCursor": page.next_cursor})


@api_route(
    router,
    "PATCH /sessions/{sessionId}/artifacts/{artifactId}",
    summary="Move an artifact along its processing lifecycle",
    model=ArtifactView,
    errors=(403, 404, 409, 415),
    tags=TAGS,
    description=(
        "Owner only. `status` moves `pending -> processing -> completed|failed` or `pending -> failed`; any other "
        "move (a repeat included) is 409 INVALID_TRANSITION naming both states. `error` is accepted only with "
        "`failed`. `processingStartedAt`, `completedAt` and `processingMs` are recorded. Every change is sent to "
        "the session's connections as `artifactUpdated`. An unknown artifact is 404 ARTIFACT_NOT_FOUND."
    ),
)
def update_artifact(
    sessionId: SessionIdPath,  # noqa: N803
    artifactId: ArtifactIdPath,  # noqa: N803
    body: UpdateArtifactRequest,
    caller: Annotated[HttpCaller, Depends(signed_in)],
) -> ArtifactView:
    target = ArtifactStatus(body.status)
    runtime = get_runtime()
    session = owned_session(sessionId, caller)
    before, after = use_cases.change_artifact_status(
        runtime, session.sessionId, artifactId, target, runtime.fanout, error=body.error
    )
    logger.info(
        "artifact status changed",
        extra={
            "artifactId": artifactId,
            "from": before.status.value,
            "to": after.status.value,
            "processingMs": after.processingMs,
        },
    )
    return answer_as(ArtifactView, after.view())


@api_route(
    router,
    "DELETE /sessions/{sessionId}/artifacts/{artifactId}",
    summary="Delete an artifact and its stored object",
    status=204,
    errors=(403, 404),
    tags=TAGS,
    description=(
        "Owner only. Deletes the stored object, then the record. Repeatable: deleting an artifact that is "
        "already gone is 204 again (404 only for an unknown session)."
    ),
)
def delete_artifact(
    sessionId: SessionIdPath,  # noqa: N803
    artifactId: ArtifactIdPath,  # noqa: N803
    caller: Annotated[HttpCaller, Depends(signed_in)],
) -> None:
    session = owned_session(sessionId, caller)
    artifact = use_cases.delete_artifact(get_runtime(), session.sessionId, artifactId)
    if artifact is None:
        logger.info("artifact already gone", extra={"artifactId": artifactId})
    else:
        logger.info("artifact deleted", extra={"artifactId": artifactId, "status": artifact.status.value})
    return Response(status_code=204)  # type: ignore[return-value]  # Powertools: `-> None` documents "no body"
