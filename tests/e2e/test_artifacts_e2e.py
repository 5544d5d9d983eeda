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
from tests.support.stream_records import assert_envelope_matches

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


async def bus_event(
    stack: LocalStack, detail_type: str, artifact_id: str, timeout: float = 30, status: str | None = None
) -> dict[str, Any]:
    """The first event of `detail_type` for `artifact_id` (that moved it to `status`, when given) the stack's
    lifecycle-events function put on its bus (what `python -m local events` prints), checked against its published
    schema; fails the test when none comes within `timeout`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for event in stack.events():
            detail = event["detail"]
            if event["detail-type"] != detail_type or detail.get("artifactId") != artifact_id:
                continue
            if status is None or detail.get("changes", {}).get("status", {}).get("to") == status:
                assert_envelope_matches(event)
                return event
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"no {detail_type} for {artifact_id} within {timeout} s: {stack.events()[-5:]}")
        await asyncio.sleep(0.1)


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


def test_a_declared_processor_kind_is_accepted_goes_to_processing_and_is_announced_uploaded(
    stack: LocalStack,
) -> None:
    owner = stack.mint("artifact-owner")
    session_id = http(stack, "POST", "/sessions", owner, json={"title": "Staging"}).json()["sessionId"]

    async def scenario() -> None:
        speaker = await join(stack, session_id, token=owner)
        created = create(stack, owner, session_id, kind="reference-frames", fileName="angle-1.png")
        await send_form(created["upload"], png(64, 48))
        update = (await next_of_type(speaker, "artifactUpdated", timeout=20))["artifact"]
        assert (update["status"], update["width"], update["height"]) == ("processing", 64, 48)
        artifact_id = created["artifact"]["artifactId"]
        announced = await bus_event(stack, "Artifact Uploaded", artifact_id)
        assert (announced["detail"]["sessionId"], announced["detail"]["kind"]) == (session_id, "reference-frames")
        assert announced["detail"]["uploadedAt"] == update["uploadedAt"]
        path = f"/sessions/{session_id}/artifacts/{artifact_id}"
        done = http(stack, "PATCH", path, owner, json={"status": "completed"})
        assert done.status_code == 200 and done.json()["processingMs"] >= 0
        completed = await bus_event(stack, "Artifact Updated", artifact_id, status="completed")
        assert completed["detail"]["changes"]["status"] == {"from": "processing", "to": "completed"}
        await speaker.close()

    asyncio.run(scenario())


def test_a_shared_slide_reaches_listeners_who_download_exactly_its_bytes_and_an_unshared_one_only_its_status(
    stack: LocalStack,
) -> None:
    owner = stack.mint("artifact-owner")
    session_id = http(stack, "POST", "/sessions", owner, json={"title": "Talk"}).json()["sessionId"]
    slide_bytes, notes_bytes = png(1280, 720), png(16, 16)

    async def scenario() -> None:
        listener = await join(stack, session_id)
        slide = create(stack, owner, session_id, fileName="slide-7.png")
        slide_id = slide["artifact"]["artifactId"]
        shared = http(stack, "PATCH", f"/sessions/{session_id}/artifacts/{slide_id}", owner, json={"shared": True})
        assert shared.status_code == 200
        told = (await next_of_type(listener, "artifactUpdated"))["artifact"]
        assert told["shared"] is True and told["fileName"] == "slide-7.png" and "url" not in told
        await send_form(slide["upload"], slide_bytes)
        done = (await next_of_type(listener, "artifactUpdated", timeout=20))["artifact"]
        assert (done["artifactId"], done["status"], done["width"]) == (slide_id, "completed", 1280)
        link = http(stack, "GET", f"/sessions/{session_id}/artifacts/{slide_id}/download")  # no token
        assert link.status_code == 200, link.text
        downloaded = await asyncio.to_thread(requests.get, link.json()["url"], timeout=15)
        assert downloaded.status_code == 200 and downloaded.content == slide_bytes
        listed = http(stack, "GET", f"/sessions/{session_id}/artifacts", params={"shared": "true"}).json()
        assert [a["artifactId"] for a in listed["items"]] == [slide_id]

        notes = create(stack, owner, session_id, fileName="speaker-notes.png")
        await send_form(notes["upload"], notes_bytes)
        glimpse = (await next_of_type(listener, "artifactUpdated", timeout=20))["artifact"]
        assert glimpse == {"artifactId": notes["artifact"]["artifactId"], "status": "completed", "shared": False}
        hidden = http(stack, "GET", f"/sessions/{session_id}/artifacts/{notes['artifact']['artifactId']}/download")
        assert hidden.status_code == 404
        await listener.close()

    asyncio.run(scenario())


def test_a_result_tree_lists_and_deletes_with_every_object_under_the_parents_prefix(stack: LocalStack) -> None:
    assert stack.urls is not None
    owner = stack.mint("artifact-owner")
    session_id = http(stack, "POST", "/sessions", owner, json={"title": "Staging"}).json()["sessionId"]
    s3 = dynamodb.client("s3", stack.urls.s3)

    async def scenario() -> None:
        photo = create(stack, owner, session_id, fileName="room.png")
        photo_id = photo["artifact"]["artifactId"]
        staged = http(
            stack,
            "POST",
            f"/sessions/{session_id}/artifacts/{photo_id}/results",
            owner,
            json={"kind": "image", "contentType": "image/png", "fileName": "staged.png"},
        ).json()
        staged_id = staged["artifact"]["artifactId"]
        edit = http(
            stack,
            "POST",
            f"/sessions/{session_id}/artifacts/{staged_id}/results",
            owner,
            json={"kind": "image", "contentType": "image/png", "fileName": "edit.png"},
        ).json()
        for created in (photo, staged, edit):
            await send_form(created["upload"], png(3, 3))
        prefix = photo["artifact"]["objectKey"].rsplit("/", 1)[0] + "/"
        under = s3.list_objects_v2(Bucket=stack.bucket_name, Prefix=prefix)["Contents"]
        assert sorted(o["Key"] for o in under) == sorted(c["artifact"]["objectKey"] for c in (photo, staged, edit))
        results = http(stack, "GET", f"/sessions/{session_id}/artifacts/{photo_id}/results", owner).json()
        assert [a["artifactId"] for a in results["items"]] == [staged_id]
        assert http(stack, "DELETE", f"/sessions/{session_id}/artifacts/{photo_id}", owner).status_code == 204
        assert "Contents" not in s3.list_objects_v2(Bucket=stack.bucket_name, Prefix=prefix)
        gone = http(stack, "GET", f"/sessions/{session_id}/artifacts/{staged_id}/results", owner)
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "ARTIFACT_NOT_FOUND"

    asyncio.run(scenario())
