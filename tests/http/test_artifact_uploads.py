"""An upload confirmed by storage (session_runtime/uploads.py through the upload function's entry point): the
object is uploaded with the presigned form to moto's S3, then S3's event notification (the record the local S3
sends too: local/s3/notifications.py) invokes the upload function, as the bucket's notification does on AWS."""

from __future__ import annotations

from typing import Any

import pytest

from session_schema.artifact_kinds import DEFAULT_KINDS, KindDeclaration

from local.s3 import Stored, event_of
from tests.http.test_artifacts import create_artifact, upload
from tests.support.aws import BUCKET_NAME
from tests.support.http_events import FakeLambdaContext
from tests.support.images import jpeg, png

HTML = b"<!DOCTYPE html><html><body><script>document.cookie</script></body></html>"


def notify(s3, key: str) -> dict[str, Any]:
    """S3's notification of the object at `key`, delivered to the upload function: its answer."""
    from upload_handler.app import handler

    head = s3.head_object(Bucket=BUCKET_NAME, Key=key)
    stored = Stored(BUCKET_NAME, key, head["ContentLength"], head["ETag"].strip('"'))
    return handler(event_of(stored, "ObjectCreated:Post"), FakeLambdaContext(function_name="live-sessions-upload"))


def uploaded(api, s3, sid: str, content: bytes, **body: Any) -> dict[str, Any]:
    created = create_artifact(api, sid, **body)
    assert upload(s3, created["upload"], content)[0] == 204
    return created["artifact"]


def test_a_png_uploaded_with_the_form_completes_by_itself_with_its_size_and_dimensions(api, s3, management):
    sid = api.create("alice")["sessionId"]
    api.listen(sid, "speaker-1", role="speaker")
    image = png(640, 360)
    artifact = uploaded(api, s3, sid, image)
    assert notify(s3, artifact["objectKey"]) == {"completed": 1}
    stored = api.store.get_artifact(sid, artifact["artifactId"])
    assert stored.status.value == "completed" and stored.error is None
    assert (stored.sizeBytes, stored.width, stored.height) == (len(image), 640, 360)
    assert stored.etag == s3.head_object(Bucket=BUCKET_NAME, Key=artifact["objectKey"])["ETag"].strip('"')
    assert stored.uploadedAt is not None and stored.completedAt is not None
    (frame,) = management.sent["speaker-1"]
    assert frame["type"] == "artifactUpdated" and frame["artifact"]["status"] == "completed"
    assert (frame["artifact"]["width"], frame["artifact"]["height"], frame["artifact"]["sizeBytes"]) == (
        640,
        360,
        len(image),
    )


def test_a_repeated_notification_changes_nothing_and_tells_no_one(api, s3, management):
    sid = api.create("alice")["sessionId"]
    api.listen(sid, "speaker-1", role="speaker")
    artifact = uploaded(api, s3, sid, jpeg(1920, 1080), contentType="image/jpeg", fileName="photo.jpg")
    assert notify(s3, artifact["objectKey"]) == {"completed": 1}
    before = api.store.get_artifact(sid, artifact["artifactId"])
    assert notify(s3, artifact["objectKey"]) == {"repeat": 1}  # S3 delivers at least once
    assert api.store.get_artifact(sid, artifact["artifactId"]) == before
    assert len(management.sent["speaker-1"]) == 1


def test_a_png_whose_bytes_are_html_fails_with_the_reason(api, s3, management):
    sid = api.create("alice")["sessionId"]
    artifact = uploaded(api, s3, sid, HTML)
    assert notify(s3, artifact["objectKey"]) == {"failed": 1}
    stored = api.store.get_artifact(sid, artifact["artifactId"])
    assert stored.status.value == "failed" and stored.uploadedAt is None and stored.width is None
    assert stored.error is not None and "image/png" in stored.error and "HTML" in stored.error
    listed = api.http("GET", f"/sessions/{sid}/artifacts", user="alice").body["items"][0]
    assert listed["status"] == "failed" and listed["error"] == stored.error


def test_a_kind_with_a_processor_goes_to_processing_once_stored(api, s3):
    declared = (*DEFAULT_KINDS.kinds, KindDeclaration(name="staging", contentTypes=("image/png",), processor="stager"))
    kinds = DEFAULT_KINDS.model_copy(update={"kinds": declared})
    api.runtime.settings = api.runtime.settings.model_copy(update={"artifact_kinds": kinds})
    sid = api.create("alice")["sessionId"]
    artifact = uploaded(api, s3, sid, png(8, 8), kind="staging")
    assert notify(s3, artifact["objectKey"]) == {"processing": 1}
    stored = api.store.get_artifact(sid, artifact["artifactId"])
    assert stored.status.value == "processing" and stored.uploadedAt is not None and stored.processingStartedAt
    done = api.http(
        "PATCH", f"/sessions/{sid}/artifacts/{artifact['artifactId']}", user="alice", body={"status": "completed"}
    )
    assert done.status == 200 and done.body["width"] == 8


def test_an_upload_the_owner_already_moved_gets_its_facts_without_a_status_move(api, s3):
    sid = api.create("alice")["sessionId"]
    artifact = uploaded(api, s3, sid, png(4, 3))
    path = f"/sessions/{sid}/artifacts/{artifact['artifactId']}"
    assert api.http("PATCH", path, user="alice", body={"status": "processing"}).status == 200
    assert notify(s3, artifact["objectKey"]) == {"recorded": 1}
    stored = api.store.get_artifact(sid, artifact["artifactId"])
    assert stored.status.value == "processing" and (stored.width, stored.height) == (4, 3)


UNKNOWN = "alice/quiet-river-123/image/art_01HF7YAT00MASYHT3KVFKKE0HS/x.png"  # no such artifact


@pytest.mark.parametrize("key", ["not/an/artifact.png", UNKNOWN])
def test_an_object_no_artifact_owns_is_ignored(api, s3, key):
    s3.put_object(Bucket=BUCKET_NAME, Key=key, Body=b"x")
    assert notify(s3, key) == {"unknown": 1}


def test_another_bucket_or_event_is_ignored(api):
    from upload_handler.app import handler

    other = event_of(Stored("other-bucket", "a/b/c/d/e", 1, "00"), "ObjectCreated:Put")
    removed = event_of(Stored(BUCKET_NAME, "a/b/c/d/e", 1, "00"), "ObjectRemoved:Delete")
    context = FakeLambdaContext(function_name="live-sessions-upload")
    assert handler({"Records": other["Records"] + removed["Records"]}, context) == {"ignored": 2}
