"""Artifacts over the HTTP API: register an upload and send the file with its presigned S3 POST form, list a
session's artifacts with their state (`pending`, `processing`, `completed`, `failed`, as storage confirmed
them), add results, share, keep, delete (a large tree or session a batch at a time, repeated here until done),
and download a shared one (a listener needs no token). The twin of the TypeScript client's `artifacts.ts`.

Standard library only, like `http.py`: the form is encoded here as `multipart/form-data`, the signed fields
first and the file last, as S3 requires.
"""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
import uuid
from typing import Any, Literal, TypedDict, cast
from urllib.parse import quote

from .errors import HttpError
from .http import HttpApi, _query, _session, _without_none

ArtifactStatus = Literal["pending", "processing", "completed", "failed"]


class UploadForm(TypedDict):
    method: Literal["POST"]
    url: str
    fields: dict[str, str]
    headers: dict[str, str]
    expiresAt: int
    maxBytes: int


class CreatedArtifact(TypedDict):
    artifact: dict[str, Any]
    upload: UploadForm


class ArtifactsPage(TypedDict):
    items: list[dict[str, Any]]
    nextCursor: str | None


class DownloadLink(TypedDict):
    url: str
    expiresAt: int


def _artifact(session_id: str, artifact_id: str) -> str:
    return _session(session_id) + "/artifacts/" + quote(artifact_id, safe="")


def multipart_form(fields: dict[str, str], file_name: str, content: bytes, content_type: str) -> tuple[bytes, str]:
    """`fields` then the file as `multipart/form-data`: (body, the Content-Type header with its boundary)."""
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    safe_name = file_name.replace('"', "_").replace("\r", "_").replace("\n", "_")
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{safe_name}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
    )
    parts += [content, f"\r\n--{boundary}--\r\n".encode()]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


class Artifacts:
    """A session's artifacts, through an `HttpApi` (its token: the owner's for every call but the shared ones)."""

    def __init__(self, api: HttpApi) -> None:
        self.api = api

    async def create(
        self,
        session_id: str,
        *,
        kind: str,
        content_type: str,
        file_name: str,
        size_bytes: int | None = None,
        parent_id: str | None = None,
    ) -> CreatedArtifact:
        """Register an upload (a result of `parent_id` when given): the artifact (`pending`) and its form."""
        body = _without_none(
            {"kind": kind, "contentType": content_type, "fileName": file_name, "sizeBytes": size_bytes}
        )
        path = _session(session_id) + "/artifacts"
        if parent_id is not None:
            path = _artifact(session_id, parent_id) + "/results"
        return cast(CreatedArtifact, await self.api.call("POST", path, body))

    async def upload(self, created: CreatedArtifact, content: bytes) -> None:
        """Send `content` with the artifact's presigned form; storage then confirms it (`artifactUpdated`)."""
        artifact, form = created["artifact"], created["upload"]
        body, content_type = multipart_form(form["fields"], artifact["fileName"], content, artifact["contentType"])
        request = urllib.request.Request(
            form["url"], data=body, headers={**form["headers"], "content-type": content_type}, method="POST"
        )
        await asyncio.to_thread(_send_form, request)

    async def list(
        self, session_id: str, *, shared: bool = False, limit: int | None = None, cursor: str | None = None
    ) -> ArtifactsPage:
        """The session's root artifacts newest first (the owner's); `shared=True`: the shared ones (anyone)."""
        query = _query(shared="true" if shared else None, limit=limit, cursor=cursor)
        return cast(ArtifactsPage, await self.api.call("GET", _session(session_id) + "/artifacts" + query))

    async def results(
        self, session_id: str, artifact_id: str, *, limit: int | None = None, cursor: str | None = None
    ) -> ArtifactsPage:
        query = _query(limit=limit, cursor=cursor)
        return cast(ArtifactsPage, await self.api.call("GET", _artifact(session_id, artifact_id) + "/results" + query))

    async def update(
        self,
        session_id: str,
        artifact_id: str,
        *,
        status: ArtifactStatus | None = None,
        shared: bool | None = None,
        keep: bool | None = None,
        error: str | None = None,
        processor: str | None = None,
        processing_ms: int | None = None,
    ) -> dict[str, Any]:
        body = _without_none(
            {
                "status": status,
                "shared": shared,
                "keep": keep,
                "error": error,
                "processor": processor,
                "processingMs": processing_ms,
            }
        )
        return cast(dict[str, Any], await self.api.call("PATCH", _artifact(session_id, artifact_id), body))

    async def delete(self, session_id: str, artifact_id: str) -> None:
        """Delete the artifact with its results and objects, repeating the DELETE while the server answers 202."""
        while await self.api.call("DELETE", _artifact(session_id, artifact_id)) is not None:
            pass

    async def delete_session_data(self, session_id: str) -> None:
        """Delete everything the session holds (ending it first when live), repeating while answered 202."""
        while await self.api.call("DELETE", _session(session_id) + "/data") is not None:
            pass

    async def download_link(self, session_id: str, artifact_id: str) -> DownloadLink:
        """A short-lived presigned GET of a shared artifact (anyone, while the session is joinable; the owner:
        always). Never kept: ask again rather than store it."""
        return cast(DownloadLink, await self.api.call("GET", _artifact(session_id, artifact_id) + "/download"))

    async def download(self, session_id: str, artifact_id: str) -> bytes:
        link = await self.download_link(session_id, artifact_id)
        return await asyncio.to_thread(_get_bytes, link["url"], self.api.timeout)


def _send_form(request: urllib.request.Request) -> None:
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
    except urllib.error.HTTPError as refused:  # S3 answers XML: its code and message are in the body
        why = refused.read()[:300].decode(errors="replace")
        raise HttpError("UPLOAD_REFUSED", f"S3 refused the upload ({refused.code}): {why}", refused.code) from None
    except (OSError, ValueError) as unanswered:
        raise HttpError("NETWORK_ERROR", f"upload: {unanswered}", 0) from unanswered


def _get_bytes(url: str, timeout: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as refused:
        raise HttpError("DOWNLOAD_REFUSED", f"storage answered {refused.code}", refused.code) from None
    except (OSError, ValueError) as unanswered:
        raise HttpError("NETWORK_ERROR", f"download: {unanswered}", 0) from unanswered
