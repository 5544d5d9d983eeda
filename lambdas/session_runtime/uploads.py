"""An upload confirmed by storage: S3's notification that an artifact's object landed moves the artifact on.

For each stored object (`StoredObject`, from one S3 event record): find the artifact whose key it is (a key no
artifact has, or one deleted meanwhile, is ignored), read at most `file_header.HEADER_BYTES` of it (one ranged
GET, only while the object is still the one notified: `IfMatch` its ETag), and record in ONE conditional write
with its `artifactUpdated` stream event:

- its first bytes are not its declared content type: `failed` with the reason (`sizeBytes`, `etag` recorded);
- else `sizeBytes`, `etag`, `uploadedAt` (and a still image's `width`/`height`), and the status its kind asks:
  `processing` when the deployment's declaration names a processor for it (the lifecycle-events function
  announces `Artifact Uploaded` from `uploadedAt` appearing), `completed` otherwise (`pending -> completed`).

S3 delivers at least once: the write is conditional on the ETag the record had, and a record that already has
this object's ETag is left alone, so a repeat changes nothing and tells no one. An artifact the owner already
moved by hand (a `processing` before the notification arrived) gets the facts without a status move, or
`failed` when its bytes are wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from session_schema import file_header, storage
from session_schema.errors import ArtifactNotFound
from session_schema.models import Artifact
from session_schema.status import ArtifactStatus, is_legal_transition

from .runtime import Runtime
from .use_cases import change_artifact_status

Outcome = Literal["completed", "processing", "failed", "recorded", "repeat", "unknown", "replaced"]


@dataclass(frozen=True)
class StoredObject:
    """What an S3 `ObjectCreated` event record says of the object it announces."""

    key: str
    size: int
    etag: str
    time_ms: int | None

    @classmethod
    def from_record(cls, record: dict[str, Any], *, bucket: str) -> StoredObject | None:
        """The object of an `ObjectCreated:*` record of `bucket`, else None (another event, another bucket)."""
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            return None
        s3 = record.get("s3") or {}
        if (s3.get("bucket") or {}).get("name") != bucket:
            return None
        stored = s3.get("object") or {}
        key = stored.get("key")
        if not isinstance(key, str) or not key:
            return None
        # S3 URL-encodes the key in its notifications (a space as `+`).
        return cls(unquote_plus(key), int(stored.get("size") or 0), str(stored.get("eTag") or "").strip('"'), None)


def _header_bytes(runtime: Runtime, stored: StoredObject) -> bytes | None:
    """The object's first bytes, while it is still the notified one (None: replaced or gone since)."""
    request: dict[str, Any] = {
        "Bucket": runtime.settings.artifacts_bucket,
        "Key": stored.key,
        "Range": f"bytes=0-{file_header.HEADER_BYTES - 1}",
    }
    if stored.etag:
        request["IfMatch"] = f'"{stored.etag}"'
    try:
        answer = runtime.s3.get_object(**request)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("PreconditionFailed", "NoSuchKey", "412", "404", "InvalidRange"):
            return None if code != "InvalidRange" else b""
        raise
    body: bytes = answer["Body"].read(file_header.HEADER_BYTES)
    return body


def _target(runtime: Runtime, artifact: Artifact, problem: str | None) -> ArtifactStatus | None:
    """Where the upload moves the artifact (None: nowhere, the facts alone). Only a `pending` one moves on by
    itself; one the owner already moved is only failed, when its bytes are wrong."""
    if problem is not None:
        return ArtifactStatus.FAILED if is_legal_transition(artifact.status, ArtifactStatus.FAILED) else None
    if artifact.status is not ArtifactStatus.PENDING:
        return None
    declared = runtime.settings.artifact_kinds.get(artifact.kind)
    return ArtifactStatus.PROCESSING if declared is not None and declared.processor else ArtifactStatus.COMPLETED


def confirm_upload(runtime: Runtime, stored: StoredObject) -> Outcome:
    """Record `stored` on its artifact and move it on (see the module docstring): what happened."""
    place = storage.place_of(stored.key)
    if place is None:
        return "unknown"
    try:
        artifact = runtime.store.get_artifact(place.session_id, place.artifact_id)
    except ArtifactNotFound:
        return "unknown"
    if artifact.objectKey != stored.key:
        return "unknown"
    if artifact.etag is not None and artifact.etag == stored.etag:
        return "repeat"
    head = _header_bytes(runtime, stored)
    if head is None:
        return "replaced"  # a later notification tells of the object there now
    verdict = file_header.judge(artifact.contentType, head)
    facts: dict[str, Any] = {"sizeBytes": stored.size, "etag": stored.etag}
    if verdict.problem is None:
        facts |= {"uploadedAt": runtime.store.clock(), "width": verdict.width, "height": verdict.height}
    target = _target(runtime, artifact, verdict.problem)
    before, after = change_artifact_status(
        runtime, place.session_id, artifact.artifactId, target, runtime.fanout, error=verdict.problem, facts=facts
    )
    if after == before:
        return "repeat"
    return "recorded" if target is None else target.value  # type: ignore[return-value]  # a status is an Outcome
