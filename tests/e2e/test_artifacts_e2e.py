"""Artifacts end to end through the local stack, as the seeds use them: the owner registers an upload over HTTP
and uploads the file with the presigned POST straight to the embedded S3; the embedded S3 tells the upload
function of the stored object (as the bucket's event notification does on AWS) and the artifact moves on by
itself, each step reaching the session's connections as `artifactUpdated`.

This stack declares its kinds (`serve --artifact-kinds`, as `cdk synth -c artifactKinds`): the default ones
plus the seeds' `reference-frames`, processed by a processor (the default declaration refuses it:
tests/http/test_artifacts.py). The embedded S3 judges the form's signed policy as S3 does (local/s3; each
bound's refusal: test_s3_upload_policy.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from websockets.asyncio.client import ClientConnection

from session_schema.artifact_kinds import DEFAULT_KINDS, KindDeclaration

from local import dynamodb
from local.stack import LocalStack
from tests.support.images import png
from tests.support.local_stack import http, next_of_type, open_ws, running_local_stack, ws_url

pytestmark = pytest.mark.e2e

REFERENCE_FRAMES = KindDeclaration(name="reference-frames", contentTypes=("image/png",), processor="stager")
HTML = b"<!DOCTYPE html><html><body>not an image</body></html>"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    kinds = DEFAULT_KINDS.model_copy(update={"kinds": (*DEFAULT_KINDS.kinds, REFERENCE_FRAMES)})
    with running_local_stack(settings_overrides={"ARTIFACT_KINDS": kinds.to_setting()}) as local:
        yield local


async def join(stack: LocalStack, session_id: str, token: str | None = None) -> ClientConnection:
    ws = await open_ws(ws_url(stack, session_id, token))
    await ws.send(json.dumps({"action": "join"}))
    await next_of_type(ws, "joined")
    return ws


def create(stack: LocalStack, owner: str, session_id: str, **body: Any) -> dict[str, Any]:
    body = {"kind": "image", "contentType": "image/png", "fileName": "slide-1.png"} | body
    created = http(stack, "POST", f"/sessions/{session_id}/artifacts", owner, json=body)
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


async def send_form(upload: dict[str, Any], content: bytes) -> None:
    sent = await asyncio.to_thread(
        requests.post, upload["url"], data=upload["fields"], files={"file": ("f", content)}, timeout=15
    )
    assert sent.status_code == 204, sent.text


def test_a_png_uploaded_with_the_form_completes_by_itself_with_its_size_and_dimensions(stack: LocalStack) -> None:
    assert stack.urls is not None
    owner = stack.mint("artifact-owner")
    session_id = http(stack, "POST", "/sessions", owner, json={"title": "Slides"}).json()["sessionId"]
    s3 = dynamodb.client("s3", stack.urls.s3)
    image = png(320, 200)

    async def scenario() -> None:
        speaker = await join(stack, session_id, token=owner)
        created = create(stack, owner, session_id)
        artifact = created["artifact"]
        assert artifact["status"] == "pending"
        assert artifact["objectKey"] == f"artifact-owner/{session_id}/image/{artifact['artifactId']}/slide-1.png"
        await send_form(created["upload"], image)

        update = (await next_of_type(speaker, "artifactUpdated", timeout=20))["artifact"]
        assert update["artifactId"] == artifact["artifactId"] and update["status"] == "completed"
        assert (update["sizeBytes"], update["width"], update["height"]) == (len(image), 320, 200)
        mine = http(stack, "GET", f"/sessions/{session_id}/artifacts", owner).json()["items"]
        assert [(a["status"], a["width"], a["uploadedAt"] is not None) for a in mine] == [("completed", 320, True)]
        stored = s3.get_object(Bucket=stack.bucket_name, Key=artifact["objectKey"])["Body"].read()
        assert stored == image

        stranger = http(stack, "GET", f"/sessions/{session_id}/artifacts", stack.mint("stranger"))
        assert stranger.status_code == 404
        path = f"/sessions/{session_id}/artifacts/{artifact['artifactId']}"
        assert http(stack, "DELETE", path, owner).status_code == 204
        assert "Contents" not in s3.list_objects_v2(Bucket=stack.bucket_name, Prefix=f"artifact-owner/{session_id}/")
        await speaker.close()

    asyncio.run(scenario())


def test_a_png_whose_bytes_are_html_fails_with_the_reason(stack: LocalStack) -> None:
    owner = stack.mint("artifact-owner")
    session_id = http(stack, "POST", "/sessions", owner, json={"title": "Slides"}).json()["sessionId"]

    async def scenario() -> None:
        speaker = await join(stack, session_id, token=owner)
        created = create(stack, owner, session_id)
        await send_form(created["upload"], HTML)
        update = (await next_of_type(speaker, "artifactUpdated", timeout=20))["artifact"]
        assert update["status"] == "failed" and "image/png" in update["error"] and "HTML" in update["error"]
        assert update["uploadedAt"] is None and update["width"] is None
        await speaker.close()

    asyncio.run(scenario())


def test_a_declared_processor_kind_is_accepted_and_goes_to_processing(stack: LocalStack) -> None:
    owner = stack.mint("artifact-owner")
    session_id = http(stack, "POST", "/sessions", owner, json={"title": "Staging"}).json()["sessionId"]

    async def scenario() -> None:
        speaker = await join(stack, session_id, token=owner)
        created = create(stack, owner, session_id, kind="reference-frames", fileName="angle-1.png")
        await send_form(created["upload"], png(64, 48))
        update = (await next_of_type(speaker, "artifactUpdated", timeout=20))["artifact"]
        assert (update["status"], update["width"], update["height"]) == ("processing", 64, 48)
        path = f"/sessions/{session_id}/artifacts/{created['artifact']['artifactId']}"
        done = http(stack, "PATCH", path, owner, json={"status": "completed"})
        assert done.status_code == 200 and done.json()["processingMs"] >= 0
        await speaker.close()

    asyncio.run(scenario())
