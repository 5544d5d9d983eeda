"""Where a session's artifacts live in S3. Every path is derived here from the owner and the session ID."""

from __future__ import annotations

from .ids import is_session_id


def artifact_prefix(owner_id: str, session_id: str, kind: str) -> str:
    """`<ownerId>/<sessionId>/<kind>/`: the only place the storage path of a session is spelled."""
    if not is_session_id(session_id):  # a request ID here is exactly the field bug this guards against
        raise ValueError(f"not a session ID: {session_id!r}")
    return f"{owner_id}/{session_id}/{kind}/"


def artifact_object_key(owner_id: str, session_id: str, kind: str, artifact_id: str, file_name: str) -> str:
    return f"{artifact_prefix(owner_id, session_id, kind)}{artifact_id}/{file_name}"


# How browsers may reach the bucket: uploads are presigned POST forms (the signed policy pins key,
# content type and size, so the form itself is the credential and any origin may use it). The CDK
# bucket and the local stack's embedded S3 both take their CORS rule from here.
UPLOAD_CORS_METHODS: tuple[str, ...] = ("POST", "PUT")
UPLOAD_CORS_HEADERS: tuple[str, ...] = ("Content-Type", "Content-Length")
UPLOAD_CORS_MAX_AGE_SECONDS = 3000
