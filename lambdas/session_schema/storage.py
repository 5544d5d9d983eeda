"""Where a session's artifacts live in S3. Every path is derived here from the owner and the session ID."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .ids import is_session_id


def artifact_prefix(owner_id: str, session_id: str, kind: str) -> str:
    """`<ownerId>/<sessionId>/<kind>/`: the only place the storage path of a session is spelled."""
    if not is_session_id(session_id):  # a request ID here is exactly the field bug this guards against
        raise ValueError(f"not a session ID: {session_id!r}")
    return f"{owner_id}/{session_id}/{kind}/"


def artifact_object_key(
    owner_id: str, session_id: str, kind: str, artifact_id: str, file_name: str, ancestor_ids: Sequence[str] = ()
) -> str:
    """A root's key, `<ownerId>/<sessionId>/<kind>/<artifactId>/<fileName>`; a result's (`kind` its root's,
    `ancestor_ids` from its root down to its parent) `<ownerId>/<sessionId>/<root kind>/<rootId>/.../<parentId>/
    <artifactId>/<fileName>`: under its parent's prefix, so a root's whole tree is one S3 prefix."""
    below = "".join(f"{ancestor_id}/" for ancestor_id in ancestor_ids)
    return f"{artifact_prefix(owner_id, session_id, kind)}{below}{artifact_id}/{file_name}"


OBJECT_KEY_MAX_BYTES = 1024  # S3's limit on an object key (UTF-8)


def tree_prefix(object_key: str) -> str:
    """The prefix every object of an artifact's subtree has (its own key included): its key without its file."""
    return object_key.rsplit("/", 1)[0] + "/"


def lineage_in_key(object_key: str) -> tuple[str, list[str]] | None:
    """(the kind segment, the IDs between it and the artifact's own) that a result's key spells: how a result
    written before its record carried `rootKind` and `ancestorIds` is read (codec); None for a key too short."""
    parts = object_key.split("/")  # no segment has a `/`: user IDs, session IDs, kinds and file names exclude it
    if len(parts) < 6:
        return None
    return parts[2], parts[3:-2]


@dataclass(frozen=True)
class ObjectPlace:
    """Whose object a key is, read back from the key's own segments (S3 notifications name only the key)."""

    session_id: str
    root_id: str  # the artifact at the top of its tree (the artifact itself for a root)
    artifact_id: str


def place_of(object_key: str) -> ObjectPlace | None:
    """`<ownerId>/<sessionId>/<kind>/<rootId>/[<id>/...]<artifactId>/<fileName>` -> its place; None for a key
    no artifact could have (the record's own `objectKey` is still compared before anything is believed)."""
    parts = object_key.split("/")
    if len(parts) < 5 or not is_session_id(parts[1]):
        return None
    return ObjectPlace(session_id=parts[1], root_id=parts[3], artifact_id=parts[-2])


# How browsers may reach the bucket: uploads are presigned POST forms (the signed policy pins key,
# content type and size, so the form itself is the credential and any origin may use it). The CDK
# bucket and the local stack's embedded S3 both take their CORS rule from here.
UPLOAD_CORS_METHODS: tuple[str, ...] = ("POST", "PUT")
UPLOAD_CORS_HEADERS: tuple[str, ...] = ("Content-Type", "Content-Length")
UPLOAD_CORS_MAX_AGE_SECONDS = 3000
