"""The session changes both APIs and the sweep make, each published through session_runtime/stream.py (the
store judges the change at the stream's head, the stream numbers, keeps and tells it), with the TTL settings
bound here.

HTTP routes (PATCH/DELETE a session, POST a message, POST/PATCH/DELETE an artifact), WebSocket actions (pause, resume,
end, mute, unmute, sendMessage) and the sweep (ending a speakerless session) call these, so they cannot drift
apart: the same write, the same TTL, and everyone told by the same rule exactly when the write changed something
(its stream seq moved; a repeated mute or a sweep that finds the speaker back changes nothing and tells no one).
`audience` is who is told: the session's whole fan-out, or a WebSocket caller's `others` (it gets its own answer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from session_protocol import events
from session_schema.errors import ArtifactNotFound, ConcurrentUpdate, ValidationFailed
from session_schema.ids import new_record_id
from session_schema.models import (
    ARTIFACT_ID_PREFIX,
    Artifact,
    ArtifactKind,
    ContentType,
    FileName,
    Message,
    Session,
)
from session_schema.status import ArtifactStatus, SessionStatus
from session_schema.storage import OBJECT_KEY_MAX_BYTES, artifact_object_key, tree_prefix
from session_store.stream_log import ItemRefused

from . import channels as channel_list
from . import stream
from .fanout import Fanout
from .runtime import Runtime
from .stream import Published


def change_status(
    runtime: Runtime,
    session_id: str,
    target: SessionStatus,
    audience: Fanout,
    *,
    title: str | None = None,
    muted: bool | None = None,
    speaker: str | None = None,
    only_if_speakerless_before: int | None = None,
) -> tuple[Session, Session]:
    """A status transition (with title/muted in the same write), published on the session's stream: (before,
    after), everyone told of a change (a sweep that finds the speaker back changes nothing and tells no one)."""
    store = runtime.store

    def draft(head: Session) -> stream.Draft[None]:
        change = store.status_change(
            head,
            target,
            ended_ttl_days=runtime.settings.ended_session_ttl_days,
            title=title,
            muted=muted,
            speaker=speaker,
            only_if_speakerless_before=only_if_speakerless_before,
        )
        return stream.session_draft(head, change)

    return _states(stream.publish(store, session_id, draft, audience))


def _states(published: Published[None]) -> tuple[Session, Session]:
    return published.before, published.after


def update_session(
    runtime: Runtime,
    session_id: str,
    audience: Fanout,
    *,
    title: str | None = None,
    muted: bool | None = None,
    speaker: str | None = None,
    channels: list[str] | None = None,
) -> tuple[Session, Session]:
    """Title, muted and/or the declared channels of a joinable session, published: (before, after), everyone told
    of a change (a repeated mute is none); the listeners of a removed channel are then moved to none and told
    (`subscribed`, channel null)."""
    store = runtime.store

    def draft(head: Session) -> stream.Draft[None]:
        change = store.session_update(head, title=title, muted=muted, speaker=speaker, channels=channels)
        return stream.session_draft(head, change)

    before, after = _states(stream.publish(store, session_id, draft, audience))
    for removed in [name for name in before.channels if name not in after.channels]:
        channel_list.unsubscribe_all(runtime, after, removed)
    return before, after


def post_message(
    runtime: Runtime, session_id: str, sender_id: str, text: str, audience: Fanout, *, speaker: str | None = None
) -> Message:
    """Store a message (kept MESSAGE_TTL_DAYS) with its stream event in one write, and send it to `audience`."""
    store = runtime.store
    message = store.new_message(session_id, sender_id, text, ttl_days=runtime.settings.message_ttl_days)

    def draft(head: Session) -> stream.Draft[Message]:
        numbered, change = store.message_change(head, message, speaker=speaker)
        return stream.Draft([events.message(numbered)], change, numbered)

    return stream.publish(store, session_id, draft, audience).result


def broadcast(runtime: Runtime, session_id: str, data: Any, speaker: str) -> Published[int]:
    """A speaker's broadcast, published to the listeners: its `ts` is the result."""
    return stream.publish(
        runtime.store, session_id, _broadcasts_draft(runtime, [data], speaker), runtime.fanout, listeners_only=True
    )


def _broadcasts_draft(
    runtime: Runtime, data: Sequence[Any], speaker: str | None
) -> Callable[[Session], stream.Draft[int]]:
    """Broadcasts of `data` at a head: only while the session is live (the store's `broadcast_change`, also the
    write's condition); their one `ts` is the result."""
    store = runtime.store

    def draft(head: Session) -> stream.Draft[int]:
        change = store.broadcast_change(head, speaker=speaker)
        ts = store.clock()
        frames = [events.broadcast(item, ts, head.seq + 1 + index) for index, item in enumerate(data)]
        return stream.Draft(frames, change, ts)

    return draft


UPLOAD_METHOD = "POST"


def create_artifact(
    runtime: Runtime,
    session: Session,
    *,
    kind: ArtifactKind,
    content_type: ContentType,
    file_name: FileName,
    size_bytes: int | None,
    parent: Artifact | None = None,
) -> tuple[Artifact, dict[str, Any]]:
    """Register a `pending` artifact of `session` under its one storage key (a result of `parent`: under the
    parent's prefix), with the presigned upload for it: (artifact, upload). No one is told: an artifact is
    announced when its status changes."""
    now = runtime.store.clock()
    artifact_id = new_record_id(ARTIFACT_ID_PREFIX, now)
    lineage: dict[str, Any] = {}
    if parent is not None:  # derived from the parent's record as read, never from a path a client could name
        lineage = parent.result_lineage()
        object_key = parent.result_object_key(artifact_id, file_name)
        if len(object_key.encode()) > OBJECT_KEY_MAX_BYTES:  # a chain this deep no longer fits S3's keys
            raise ValidationFailed("fileName", f"the result's object key would exceed {OBJECT_KEY_MAX_BYTES} bytes")
    else:
        object_key = artifact_object_key(session.ownerId, session.sessionId, kind, artifact_id, file_name)
    artifact = Artifact(
        artifactId=artifact_id,
        sessionId=session.sessionId,
        ownerId=session.ownerId,
        kind=kind,
        contentType=content_type,
        fileName=file_name,
        objectKey=object_key,
        status=ArtifactStatus.PENDING,
        createdAt=now,
        updatedAt=now,
        **lineage,
    )
    upload = _presigned_upload(runtime, artifact, size_bytes, now)  # signing is local: nothing to undo
    runtime.store.create_artifact(artifact)
    return artifact, upload


def _presigned_upload(runtime: Runtime, artifact: Artifact, size_bytes: int | None, now_ms: int) -> dict[str, Any]:
    """A presigned POST whose policy allows exactly this key, this Content-Type and this size range (exactly
    `size_bytes`, else 1..MAX_UPLOAD_BYTES), for UPLOAD_URL_EXPIRY_SECONDS."""
    settings = runtime.settings
    low, high = (size_bytes, size_bytes) if size_bytes is not None else (1, settings.max_upload_bytes_of(artifact.kind))
    expires_in = settings.upload_url_expiry_seconds
    post = runtime.s3.generate_presigned_post(
        Bucket=settings.artifacts_bucket,
        Key=artifact.objectKey,  # boto3 adds the exact-match `bucket` and `key` conditions
        Fields={"Content-Type": artifact.contentType},
        Conditions=[{"Content-Type": artifact.contentType}, ["content-length-range", low, high]],
        ExpiresIn=expires_in,
    )
    return {
        "method": UPLOAD_METHOD,
        "url": post["url"],
        "fields": post["fields"],
        "headers": {},
        "expiresAt": now_ms + expires_in * 1000,
        "maxBytes": high,
    }


def change_artifact_status(
    runtime: Runtime,
    session_id: str,
    artifact_id: str,
    target: ArtifactStatus | None,
    audience: Fanout,
    *,
    error: str | None = None,
    facts: Mapping[str, Any] | None = None,
) -> tuple[Artifact, Artifact]:
    """An artifact's lifecycle move and/or other `facts` (`shared`, a completing move's `processor` and
    `processingMs`, an upload's facts), published on the session's stream in the same write: (before, after),
    everyone told of a change (none: after == before). A move its status refused meanwhile is judged again from
    the artifact found.

    Who is told what: the kept event is the listeners' (`events.artifact_updated`: of an unshared artifact only
    its ID and status). Shared, it goes to everyone; unshared, to the listeners, and the speaker gets the public
    view in a post of its own (live only: a replay gives it the kept frame)."""
    store = runtime.store
    current = store.get_artifact(session_id, artifact_id)
    for _ in range(stream.MAX_PUBLISH_ATTEMPTS):
        shared = bool((facts or {}).get("shared", current.shared))
        try:
            published = stream.publish(
                store,
                session_id,
                _artifact_draft(runtime, current, target, error, facts),
                audience,
                listeners_only=not shared,
            )
        except ItemRefused as refused:
            current = store.refused_artifact(session_id, artifact_id, refused)
            continue
        after = published.result
        if published.frames and not shared:
            for_speaker = events.artifact_updated_for_speaker(after, published.after.seq)
            stream.tell_speaker(audience, published.after, for_speaker)
        return current, after
    raise ConcurrentUpdate(f"artifact {artifact_id}")


def _artifact_draft(
    runtime: Runtime,
    current: Artifact,
    target: ArtifactStatus | None,
    error: str | None,
    facts: Mapping[str, Any] | None,
) -> Callable[[Session], stream.Draft[Artifact]]:
    def draft(head: Session) -> stream.Draft[Artifact]:
        changed = runtime.store.artifact_change(current, target, error=error, facts=facts)
        if changed is None:
            return stream.unchanged(current)
        after, change = changed
        return stream.Draft([events.artifact_updated(after, head.seq + 1)], change, after)

    return draft


def download(runtime: Runtime, artifact: Artifact) -> dict[str, Any]:
    """A presigned GET of the artifact's object for DOWNLOAD_URL_EXPIRY_SECONDS: {url, expiresAt}."""
    expires_in = runtime.settings.download_url_expiry_seconds
    url = runtime.s3.generate_presigned_url(
        "get_object",
        Params={"Bucket": runtime.settings.artifacts_bucket, "Key": artifact.objectKey},
        ExpiresIn=expires_in,
    )
    return {"url": url, "expiresAt": runtime.store.clock() + expires_in * 1000}


SUBTREE_DELETE_BATCH = 500  # objects, then results, one DELETE removes at most; a larger tree takes more


@dataclass(frozen=True)
class SubtreeDeleted:
    """What one bounded step of an artifact's delete did: the artifact (None: already gone), whether nothing of
    it is left, and how many objects under its prefix and result records it deleted."""

    artifact: Artifact | None
    done: bool
    objects: int = 0
    results: int = 0


def delete_artifact(runtime: Runtime, session_id: str, artifact_id: str) -> SubtreeDeleted:
    """Delete an artifact and its subtree of results, objects before records. Bounded: a call deletes at most
    SUBTREE_DELETE_BATCH objects (every object under the tree's prefix, those no record names too: a stray upload,
    a processor's scratch files) and stops while more are listed; once none is left, at most SUBTREE_DELETE_BATCH
    results, deepest first, the artifact itself last. A call that stops (the bound, a crash) leaves a smaller
    tree whose every result still has its parent and whose artifact still names the prefix, and the next call
    resumes. No one is told (as on creation)."""
    store = runtime.store
    try:
        artifact = store.get_artifact(session_id, artifact_id)
    except ArtifactNotFound:
        return SubtreeDeleted(None, done=True)
    objects, more_objects = _objects_under(runtime, tree_prefix(artifact.objectKey), at_most=SUBTREE_DELETE_BATCH)
    delete_objects(runtime, objects)
    if more_objects:
        return SubtreeDeleted(artifact, done=False, objects=len(objects))
    below = store.subtree_below(artifact, at_most=SUBTREE_DELETE_BATCH)
    done = len(below) < SUBTREE_DELETE_BATCH
    doomed = [*below, artifact] if done else below
    # Their objects again: one uploaded since the listing (a form still valid) would be left with no record.
    delete_objects(runtime, [doomed_one.objectKey for doomed_one in doomed])
    store.delete_artifacts(doomed)
    return SubtreeDeleted(artifact, done=done, objects=len(objects), results=len(below))


def _objects_under(runtime: Runtime, prefix: str, *, at_most: int) -> tuple[list[str], bool]:
    """The first `at_most` keys stored under `prefix` (one ListObjectsV2 page), and whether more are there."""
    page = runtime.s3.list_objects_v2(Bucket=runtime.settings.artifacts_bucket, Prefix=prefix, MaxKeys=at_most)
    return [stored["Key"] for stored in page.get("Contents", [])], bool(page.get("IsTruncated"))


def delete_objects(runtime: Runtime, object_keys: Sequence[str]) -> None:
    """Delete these objects of the artifacts bucket (S3 answers a delete of a missing key with success, so a
    retry after a half-done delete works); raises when S3 kept any."""
    for start in range(0, len(object_keys), 1000):  # DeleteObjects takes 1,000 keys a request
        batch = [{"Key": key} for key in object_keys[start : start + 1000]]
        answer = runtime.s3.delete_objects(Bucket=runtime.settings.artifacts_bucket, Delete={"Objects": batch})
        refused = answer.get("Errors") or []  # DeleteObjects answers 200 and lists each key it could not delete
        if refused:
            raise RuntimeError(f"S3 kept {len(refused)} object(s), e.g. {refused[0].get('Code')}")
