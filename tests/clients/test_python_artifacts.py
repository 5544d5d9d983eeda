"""The Python client's artifacts (clients/python, live_sessions_client.artifacts) against the local stack: the owner
registers an upload and sends the file with the presigned form, sees the state storage confirmed, shares it, and a
listener (no token) lists the shared ones and downloads exactly the uploaded bytes; the owner's deletes repeat
until done."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from live_sessions_client import Artifacts, HttpApi
from live_sessions_client.errors import HttpError

from local.stack import LocalStack
from tests.support.images import png
from tests.support.local_stack import create_session, running_local_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with running_local_stack() as local:
        yield local


async def settled(artifacts: Artifacts, session_id: str, artifact_id: str, timeout: float = 20) -> dict[str, Any]:
    """The artifact once storage confirmed its upload (no longer `pending`), as the owner's listing shows it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        items = (await artifacts.list(session_id))["items"]
        found = next(a for a in items if a["artifactId"] == artifact_id)
        if found["status"] != "pending" or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.1)


def test_upload_share_and_a_listeners_download_through_the_client(stack: LocalStack) -> None:
    assert stack.urls is not None
    token = stack.mint("client-owner")
    session_id = create_session(stack, token, title="Slides")
    owner = Artifacts(HttpApi(stack.urls.http, token))
    listener = Artifacts(HttpApi(stack.urls.http))
    slide = png(64, 32)

    async def scenario() -> None:
        created = await owner.create(session_id, kind="image", content_type="image/png", file_name="slide 1.png")
        assert created["artifact"]["status"] == "pending"
        await owner.upload(created, slide)
        artifact_id = created["artifact"]["artifactId"]
        done = await settled(owner, session_id, artifact_id)
        assert (done["status"], done["sizeBytes"], done["width"], done["height"]) == ("completed", len(slide), 64, 32)

        assert (await listener.list(session_id, shared=True))["items"] == []
        with pytest.raises(HttpError) as hidden:
            await listener.download(session_id, artifact_id)
        assert hidden.value.status == 404
        assert (await owner.update(session_id, artifact_id, shared=True))["shared"] is True
        shared = (await listener.list(session_id, shared=True))["items"]
        assert [a["artifactId"] for a in shared] == [artifact_id] and "objectKey" not in shared[0]
        assert await listener.download(session_id, artifact_id) == slide

        result = await owner.create(
            session_id, kind="image", content_type="image/png", file_name="staged.png", parent_id=artifact_id
        )
        assert result["artifact"]["parentId"] == artifact_id
        assert [a["artifactId"] for a in (await owner.results(session_id, artifact_id))["items"]] == [
            result["artifact"]["artifactId"]
        ]
        await owner.delete(session_id, artifact_id)
        assert (await owner.list(session_id))["items"] == []

    asyncio.run(scenario())


def test_a_refused_upload_and_a_sessions_data_deleted_through_the_client(stack: LocalStack) -> None:
    assert stack.urls is not None
    token = stack.mint("client-owner")
    session_id = create_session(stack, token, title="Scratch")
    owner = Artifacts(HttpApi(stack.urls.http, token))

    async def scenario() -> None:
        created = await owner.create(
            session_id, kind="image", content_type="image/png", file_name="a.png", size_bytes=4
        )
        with pytest.raises(HttpError) as refused:  # the signed policy pins the size: S3 refuses the rest
            await owner.upload(created, b"\x89PNG and more")
        assert refused.value.code == "UPLOAD_REFUSED" and refused.value.status == 400
        await owner.delete_session_data(session_id)
        with pytest.raises(HttpError) as gone:
            await owner.list(session_id)
        assert gone.value.code == "SESSION_NOT_FOUND"

    asyncio.run(scenario())
