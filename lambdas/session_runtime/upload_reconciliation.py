"""The sweep's catch-up for uploads whose storage notification never came (S3 delivers at least once, but the
upload function's retries can run out, and a notification can be lost while the function is broken).

Every artifact still `pending` with no upload recorded is listed in GSI2 (`AWAITING_UPLOAD#<shard>`, by creation
time; it leaves the index at its first status move). For each one created more than
UPLOAD_NOTIFICATION_GRACE_SECONDS ago, the sweep asks S3 for its object (HEAD):

- there: it is recorded exactly as the upload function records it (`uploads.confirm_upload`, from the object's
  size and ETag), so a notification that arrives later finds the same ETag and changes nothing (and one that
  arrived meanwhile makes this a repeat: every write is conditional on the status and ETag read);
- absent, and the presigned POST expired more than the grace ago (no upload can land any more): `failed`, with
  the reason, conditional on it still being `pending`;
- absent, form still valid: left for a later sweep (the client may still upload).
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from session_schema.errors import ArtifactNotFound, InvalidTransition, SessionNotFound
from session_schema.models import Artifact
from session_schema.status import ArtifactStatus

from .observability import logger
from .runtime import Runtime
from .uploads import StoredObject, confirm_upload
from .use_cases import change_artifact_status

NEVER_UPLOADED = "no upload arrived before its upload form expired"
# Without s3:ListBucket (the functions are granted objects only, never the bucket) S3 answers a HEAD of a missing
# key 403, not 404: both mean "no object this role may see", which for a key only this stack writes is "none".
_ABSENT = {"404", "NoSuchKey", "NotFound", "403", "Forbidden", "AccessDenied"}


def _stored_object(runtime: Runtime, artifact: Artifact) -> StoredObject | None:
    """What S3 holds at the artifact's key, as a notification would say it (None: nothing there)."""
    try:
        head = runtime.s3.head_object(Bucket=runtime.settings.artifacts_bucket, Key=artifact.objectKey)
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code")) in _ABSENT:
            return None
        raise
    return StoredObject(artifact.objectKey, int(head["ContentLength"]), str(head["ETag"]).strip('"'), None)


def reconcile(runtime: Runtime, artifact: Artifact, now: int) -> str:
    """One awaiting artifact: what became of it (an outcome of `confirm_upload`, `failed`, or `waiting`)."""
    settings = runtime.settings
    stored = _stored_object(runtime, artifact)
    if stored is not None:
        return confirm_upload(runtime, stored)
    form_expired_at = artifact.createdAt + settings.upload_url_expiry_seconds * 1000
    if now < form_expired_at + settings.upload_notification_grace_seconds * 1000:
        return "waiting"
    try:
        change_artifact_status(
            runtime,
            artifact.sessionId,
            artifact.artifactId,
            ArtifactStatus.FAILED,
            runtime.fanout,
            error=NEVER_UPLOADED,
        )
    except InvalidTransition:
        return "repeat"  # its upload was recorded (or it was moved by hand) since the index listed it
    return "failed"


def reconcile_unconfirmed_uploads(runtime: Runtime) -> dict[str, int]:
    """Every artifact awaiting its upload past the grace: how many ended up how."""
    now = runtime.store.clock()
    cutoff = now - runtime.settings.upload_notification_grace_seconds * 1000
    outcomes: dict[str, int] = {}
    for artifact in runtime.store.iter_awaiting_upload(cutoff):
        try:
            outcome = reconcile(runtime, artifact, now)
        except (ArtifactNotFound, SessionNotFound):
            outcome = "unknown"  # deleted since the index listed it
        except Exception:
            logger.exception("could not reconcile an upload", extra={"artifactId": artifact.artifactId})
            outcome = "error"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
