"""Artifacts end to end through the local stack: the owner registers an upload over HTTP, uploads the file
with the presigned POST straight to the embedded S3, and marks it processing then completed; a listener
and the speaker connected over the WebSocket receive each change as `artifactUpdated`.

The embedded S3 judges the form's signed policy as S3 does (local/s3; each bound's refusal:
test_s3_upload_policy.py); this test shows the issued form is accepted over real HTTP and the object lands at
its key.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import requests
from websockets.asyncio.client import ClientConnection

from local import dynamodb
from local.stack import LocalStack
from tests.support.local_stack import http, next_of_type, open_ws, ws_url

pytestmark = pytest.mark.e2e


async def join(stack: LocalStack, session_id: str, token: str | None = None) -> ClientConnection:
    ws = await open_ws(ws_url(stack, session_id, token))
    await ws.send(json.dumps({"action": "join"}))
    await next_of_type(ws, "joined")
    return ws


def test_listeners_see_an_uploaded_artifact_move_to_completed(stack: LocalStack) -> None:
    assert stack.urls is not None
    owner = stack.mint("artifact-owner")
    session_id = http(stack, "POST", "/sessions", owner, json={"title": "Slides"}).json()["sessionId"]
    s3 = dynamodb.client("s3", stack.urls.s3)

    async def scenario() -> None:
        listener = await join(stack, session_id)
        speaker = await join(stack, session_id, token=owner)

        created = http(
            stack,
            "POST",
            f"/sessions/{session_id}/artifacts",
            owner,
            json={"kind": "image", "contentType": "image/png", "fileName": "slide-1.png"},
        )
        assert created.status_code == 201, created.text
        artifact, upload = created.json()["artifact"], created.json()["upload"]
        assert artifact["status"] == "pending"
        assert artifact["objectKey"] == f"artifact-owner/{session_id}/image/{artifact['artifactId']}/slide-1.png"

        sent = await asyncio.to_thread(
            requests.post,
            upload["url"],
            data=upload["fields"],
            files={"file": ("slide-1.png", b"\x89PNG e2e")},
            timeout=15,
        )
        assert sent.status_code in (200, 201, 204), sent.text
        listed = s3.list_objects_v2(Bucket=stack.bucket_name, Prefix=f"artifact-owner/{session_id}/")
        assert [o["Key"] for o in listed["Contents"]] == [artifact["objectKey"]]

        path = f"/sessions/{session_id}/artifacts/{artifact['artifactId']}"
        for status in ("processing", "completed"):
            changed = await asyncio.to_thread(http, stack, "PATCH", path, owner, json={"status": status})
            assert changed.status_code == 200, changed.text
            for ws in (listener, speaker):
                update = await next_of_type(ws, "artifactUpdated")
                public = {k: v for k, v in changed.json().items() if k != "objectKey"}
                assert update["artifact"] == public  # listeners never see the owner-bearing storage path
        assert update["artifact"]["status"] == "completed" and update["artifact"]["processingMs"] >= 0

        stranger = http(stack, "GET", f"/sessions/{session_id}/artifacts", stack.mint("stranger"))
        assert stranger.status_code == 404
        mine = http(stack, "GET", f"/sessions/{session_id}/artifacts", owner).json()
        assert [a["status"] for a in mine["items"]] == ["completed"]

        assert http(stack, "DELETE", path, owner).status_code == 204
        assert "Contents" not in s3.list_objects_v2(Bucket=stack.bucket_name, Prefix=f"artifact-owner/{session_id}/")
        assert http(stack, "GET", f"/sessions/{session_id}/artifacts", owner).json()["items"] == []
        for ws in (listener, speaker):
            await ws.close()

    asyncio.run(scenario())
