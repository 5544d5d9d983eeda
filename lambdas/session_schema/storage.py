"""Where a session's artifacts live in S3. Every path is derived here from the owner and the session ID."""

from __future__ import annotations

from dataclasses import dataclass

from .ids import is_session_id


def artifact_prefix(owner_id: str, session_id: str, kind: str) -> str:
    """`<ownerId>/<sessionId>/<kind>/`: the only place the storage path of a session is spelled."""
    if not is_session_id(session_id):  # a request ID here is exactly the field bug this guards against
        raise ValueError(f"not a session ID: {session_id!r}")
    return f"{owner_id}/{session_id}/{kind}/"


def artifact_object_key(owner_id: str, session_id: str, kind: str, artifact_id: str, file_name: str) -> str:
    return f"{artifact_prefix(owner_id, session_id, kind)}{artifact_id}/{file_name}"


OBJECT_KEY_MAX_BYTES = 1024  # S3's limit on an object key (UTF-8)


def result_object_key(parent_object_key: str, artifact_id: str, file_name: str) -> str:
    """A result's key: under its parent's prefix (the parent's key without its file name), so a root's whole tree
    is one S3 prefix, `<ownerId>/<sessionId>/<root kind>/<rootId>/[<id>/...]<parentId>/<artifactId>/<fileName>`."""
    return f"{parent_object_key.rsplit('/', 1)[0]}/{artifact_id}/{file_name}"


def tree_prefix(object_key: str) -> str:
    """The prefix every object of an artifact's subtree has (its own key included): its key without its file."""
    return object_key.rsplit("/", 1)[0] + "/"


def is_result_object_key(
    object_key: str, owner_id: str, session_id: str, root_id: str, parent_id: str, artifact_id: str, file_name: str
) -> bool:
    """Whether `object_key` is one `result_object_key` derives for this result from some parent in `root_id`'s
    tree: `<ownerId>/<sessionId>/<kind>/<rootId>/<ancestor IDs>.../<parentId>/<artifactId>/<fileName>`, with
    `parentId` the root itself or the last ancestor."""
    prefix = f"{owner_id}/{session_id}/"
    if not object_key.startswith(prefix) or not object_key.endswith(f"/{parent_id}/{artifact_id}/{file_name}"):
        return False
    if len(object_key.encode()) > OBJECT_KEY_MAX_BYTES:
        return False
    kind, *ids = object_key[len(prefix) :].split("/")[:-1]  # the kind, then the artifact IDs down to this one
    return bool(kind) and len(ids) >= 2 and ids[0] == root_id and len(set(ids)) == len(ids)


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
