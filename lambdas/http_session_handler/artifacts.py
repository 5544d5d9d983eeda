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
- Status moves follow `pending -> processing -> completed|failed`, `pending -> completed|failed` (409
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
from session_schema.errors import ArtifactNotFound, Unauthorized, ValidationFailed
from session_schema.models import ARTIFACT_ID_PATTERN
from session_schema.status import ArtifactStatus
from session_schema.views import ArtifactView

from .artifact_schemas import (
    ArtifactDownload,
    ArtifactPage,
    CreateArtifactRequest,
    CreatedArtifact,
    DeletionUnderway,
    SharedArtifactPage,
    UpdateArtifactRequest,
    declared_kind_problem,
)
from .identity import HttpCaller, current_caller, is_owner, owned_session, readable_session, signed_in
from .params import DEFAULT_LIMIT, Cursor, Limit, SessionIdPath, SharedOnly
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
        "`<ownerId>/<sessionId>/<kind>/<artifactId>/<fileName>`; `kind` is one of the deployment's declared kinds "
        "and `contentType` one of that kind's (the document lists them). Send `upload.fields`, then the file as the "
        "`file` part, as multipart/form-data to `upload.url` before `upload.expiresAt`. S3 refuses another "
        "key, another Content-Type than `contentType`, an empty file, and one over `upload.maxBytes`."
    ),
)
def create_artifact(
    sessionId: SessionIdPath,  # noqa: N803 - the path parameter's name
    body: CreateArtifactRequest,
    caller: Annotated[HttpCaller, Depends(signed_in)],
) -> Response[CreatedArtifact]:
    return _create(sessionId, body, caller, parent_id=None)


def _create(
    session_id: str, body: CreateArtifactRequest, caller: HttpCaller, *, parent_id: str | None
) -> Response[CreatedArtifact]:
    """A root artifact, or (with `parent_id`) a result of that artifact: its record and presigned upload."""
    runtime = get_runtime()
    settings = runtime.settings
    refused = declared_kind_problem(body, settings.artifact_kinds)
    if refused:
        raise ValidationFailed(*refused)
    max_bytes = settings.max_upload_bytes_of(body.kind)
    if body.sizeBytes is not None and body.sizeBytes > max_bytes:
        raise ValidationFailed("sizeBytes", f"must be at most {max_bytes} bytes")
    session = owned_session(session_id, caller)
    parent = None if parent_id is None else runtime.store.get_artifact(session.sessionId, parent_id)
    artifact, upload = use_cases.create_artifact(
        runtime,
        session,
        kind=body.kind,
        content_type=body.contentType,
        file_name=body.fileName,
        size_bytes=body.sizeBytes,
        parent=parent,
    )
    metrics.add_metric(name="ArtifactCreated", unit=MetricUnit.Count, value=1)
    logger.info(
        "artifact created",
        extra={
            "artifactId": artifact.artifactId,
            "parentId": parent_id,
            "kind": body.kind,
            "ended": not session.joinable,
        },
    )
    return Response(
        status_code=201,
        content_type=content_types.APPLICATION_JSON,
        body=answer_as(CreatedArtifact, {"artifact": artifact.view(), "upload": upload}),
    )


@api_route(
    router,
    "POST /sessions/{sessionId}/artifacts/{artifactId}/results",
    summary="Add a result to an artifact (a derived artifact) and get a presigned upload for it",
    status=201,
    model=CreatedArtifact,
    errors=(403, 404),
    tags=TAGS,
    description=(
        "Owner only; same body and answer as `POST .../artifacts`. The result has `parentId` (the artifact of "
        "the path, itself a root or a result: chained edits form a tree) and is stored under its parent's "
        "prefix: `<parent's key without its file name>/<artifactId>/<fileName>`. An unknown artifact is 404 "
        "ARTIFACT_NOT_FOUND; a chain so deep its key would pass S3's 1,024 bytes is 400 on `fileName`."
    ),
)
def create_result(
    sessionId: SessionIdPath,  # noqa: N803
    artifactId: ArtifactIdPath,  # noqa: N803
    body: CreateArtifactRequest,
    caller: Annotated[HttpCaller, Depends(signed_in)],
) -> Response[CreatedArtifact]:
    return _create(sessionId, body, caller, parent_id=artifactId)


@api_route(
    router,
    "GET /sessions/{sessionId}/artifacts/{artifactId}/results",
    summary="An artifact's results, newest first",
    model=ArtifactPage,
    errors=(404,),
    tags=TAGS,
    description=(
        "Owner only (another user's session answers 404 SESSION_NOT_FOUND). The artifact's own results (each "
        "lists its own in turn), newest first, paginated like `GET /sessions`; a page may hold fewer than "
        "`limit` items and still have a `nextCursor`."
    ),
)
def list_results(
    sessionId: SessionIdPath,  # noqa: N803
    artifactId: ArtifactIdPath,  # noqa: N803
    caller: Annotated[HttpCaller, Depends(signed_in)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> ArtifactPage:
    sid = readable_session(sessionId, caller, owner_only=True).sessionId
    store = get_runtime().store
    page = store.list_results(store.get_artifact(sid, artifactId), limit=limit, cursor=cursor)
    return answer_as(ArtifactPage, {"items": [a.view() for a in page.items], "nextCursor": page.next_cursor})


@api_route(
    router,
    "GET /sessions/{sessionId}/artifacts",
    summary="A session's artifacts newest first (roots; with shared=true every shared one, results included)",
    model=ArtifactPage | SharedArtifactPage,
    errors=(404,),
    tags=TAGS,
    description=(
        "The owner's listing of the session's root artifacts (each one's results: `GET .../results`); signed in, "
        "another user's session answers 404 SESSION_NOT_FOUND, as any private view; an ended session's artifacts "
        "stay readable. With `shared=true`, every artifact shared with listeners, results included (a result "
        "has its `parentId`; a listener cannot list a parent's results, so this is how it finds a shared one): "
        "for anyone while the session is joinable (their public views; the owner's views to the owner); the "
        "roots newest first, then the results, tree by tree (newest tree first), each tree's newest first. "
        "Paginated like `GET /sessions`; a `shared=true` page may hold fewer than `limit` items and still have "
        "a `nextCursor`."
    ),
)
def list_artifacts(
    sessionId: SessionIdPath,  # noqa: N803
    caller: Annotated[HttpCaller | None, Depends(current_caller)],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    shared: SharedOnly = False,
) -> ArtifactPage | SharedArtifactPage:
    if not shared and caller is None:
        raise Unauthorized("sign in to list a session's artifacts (anyone may list `shared=true`)")
    session = readable_session(sessionId, caller, owner_only=not shared)  # an ended session's too, to its owner
    page = get_runtime().store.list_artifacts(session.sessionId, limit=limit, cursor=cursor, shared_only=shared)
    if is_owner(session, caller):
        return answer_as(ArtifactPage, {"items": [a.view() for a in page.items], "nextCursor": page.next_cursor})
    items = [a.public_view() for a in page.items]
    return answer_as(SharedArtifactPage, {"items": items, "nextCursor": page.next_cursor})


@api_route(
    router,
    "GET /sessions/{sessionId}/artifacts/{artifactId}/download",
    summary="A short-lived download URL of an artifact",
    model=ArtifactDownload,
    errors=(404,),
    tags=TAGS,
    description=(
        "For anyone while the session is joinable and the artifact is shared (the owner: always): a presigned "
        "S3 GET of its object, valid for DOWNLOAD_URL_EXPIRY_SECONDS. Minted per request and never sent in a "
        "stream event (a replayed frame would hand out an expired URL). Otherwise 404 ARTIFACT_NOT_FOUND (404 "
        "SESSION_NOT_FOUND for a session the caller may not read)."
    ),
)
def download_artifact(
    sessionId: SessionIdPath,  # noqa: N803
    artifactId: ArtifactIdPath,  # noqa: N803
    caller: Annotated[HttpCaller | None, Depends(current_caller)],
) -> ArtifactDownload:
    runtime = get_runtime()
    session = readable_session(sessionId, caller)  # the owner always, anyone while joinable
    artifact = runtime.store.get_artifact(session.sessionId, artifactId)
    if not is_owner(session, caller) and not artifact.shared:
        raise ArtifactNotFound(artifactId)  # an unshared artifact is one listeners do not know of
    return answer_as(ArtifactDownload, use_cases.download(runtime, artifact))


@api_route(
    router,
    "PATCH /sessions/{sessionId}/artifacts/{artifactId}",
    summary="Move an artifact along its processing lifecycle",
    model=ArtifactView,
    errors=(403, 404, 409, 415),
    tags=TAGS,
    description=(
        "Owner only. `status` moves `pending -> processing -> completed|failed` or `pending -> completed|failed`; "
        "any other "
        "move (a repeat included) is 409 INVALID_TRANSITION naming both states. `error` is accepted only with "
        "`failed`. `processingStartedAt`, `completedAt` and `processingMs` are recorded (a completing or failing move "
        "may give `processingMs` as measured and the `processor`). Every change is sent to "
        "the session's connections as `artifactUpdated`. An unknown artifact is 404 ARTIFACT_NOT_FOUND."
    ),
)
def update_artifact(
    sessionId: SessionIdPath,  # noqa: N803
    artifactId: ArtifactIdPath,  # noqa: N803
    body: UpdateArtifactRequest,
    caller: Annotated[HttpCaller, Depends(signed_in)],
) -> ArtifactView:
    target = None if body.status is None else ArtifactStatus(body.status)
    runtime = get_runtime()
    session = owned_session(sessionId, caller)
    before, after = use_cases.change_artifact_status(
        runtime, session.sessionId, artifactId, target, runtime.fanout, error=body.error, facts=body.facts()
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
    summary="Delete an artifact, its results (at every depth) and their stored objects",
    status=204,
    errors=(403, 404),
    tags=TAGS,
    other_responses={202: ("part of a large subtree was deleted: repeat the DELETE for the rest", DeletionUnderway)},
    description=(
        "Owner only. Deletes every stored object under the artifact's prefix (those no record names too), then "
        "the records: the artifact's results deepest first, the artifact last. At most "
        f"{use_cases.SUBTREE_DELETE_BATCH} objects, then {use_cases.SUBTREE_DELETE_BATCH} results, a request: a "
        "larger tree answers 202 with what that request deleted, and the next DELETE continues. Repeatable: "
        "deleting an artifact that is already gone is 204 again (404 only for an unknown session)."
    ),
)
def delete_artifact(
    sessionId: SessionIdPath,  # noqa: N803
    artifactId: ArtifactIdPath,  # noqa: N803
    caller: Annotated[HttpCaller, Depends(signed_in)],
) -> Response[DeletionUnderway | None]:
    session = owned_session(sessionId, caller)
    step = use_cases.delete_artifact(get_runtime(), session.sessionId, artifactId)
    did = {"deleted": step.results, "objectsDeleted": step.objects}
    if step.artifact is None:
        logger.info("artifact already gone", extra={"artifactId": artifactId})
    elif not step.done:
        logger.info("artifact subtree partly deleted", extra={"artifactId": artifactId, **did})
        body = answer_as(DeletionUnderway, did)
        return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=body)
    else:
        logger.info("artifact deleted", extra={"artifactId": artifactId, "status": step.artifact.status.value})
    return Response(status_code=204)
