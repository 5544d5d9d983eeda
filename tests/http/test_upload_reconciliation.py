"""The sweep reconciles uploads whose storage notification never came (session_runtime/upload_reconciliation.py):
the object is uploaded with the presigned form to moto's S3, which notifies no one here, and the scheduled sweep
finds the artifact still pending past the grace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from session_runtime.upload_reconciliation import NEVER_UPLOADED

from tests.http.test_artifact_uploads import HTML, notify, uploaded
from tests.http.test_artifacts import create_artifact
from tests.support.images import png


@contextmanager
def later(api: Any, seconds: int) -> Iterator[None]:
    """Run what follows with the store's clock `seconds` ahead (the sweep's view of a late hour)."""
    store = api.runtime.store
    real = store.clock
    store.clock = lambda: real() + seconds * 1000
    try:
        yield
    finally:
        store.clock = real


def past_grace(api: Any) -> int:
    return api.runtime.settings.upload_notification_grace_seconds + 1


def past_form_expiry(api: Any) -> int:
    settings = api.runtime.settings
    return settings.upload_url_expiry_seconds + settings.upload_notification_grace_seconds + 1


def test_an_upload_never_notified_is_recorded_by_the_sweep_as_the_upload_function_would(api, s3, management):
    sid = api.create("alice")["sessionId"]
    api.listen(sid, "speaker-1", role="speaker")
    image = png(40, 30)
    artifact = uploaded(api, s3, sid, image)
    assert api.sweep()["uploads"] == {}  # within the grace: its notification may still come
    with later(api, past_grace(api)):
        assert api.sweep()["uploads"] == {"completed": 1}
        assert api.sweep()["uploads"] == {}  # no longer awaiting: out of the index
    stored = api.store.get_artifact(sid, artifact["artifactId"])
    assert (stored.status.value, stored.sizeBytes, stored.width, stored.height) == ("completed", len(image), 40, 30)
    (frame,) = management.sent["speaker-1"]
    assert frame["type"] == "artifactUpdated" and frame["artifact"]["status"] == "completed"
    # S3's notification arriving after all changes nothing and tells no one.
    assert notify(s3, artifact["objectKey"]) == {"repeat": 1}
    assert api.store.get_artifact(sid, artifact["artifactId"]) == stored
    assert len(management.sent["speaker-1"]) == 1


def test_wrong_bytes_found_by_the_sweep_fail_with_the_reason(api, s3):
    sid = api.create("alice")["sessionId"]
    artifact = uploaded(api, s3, sid, HTML)
    with later(api, past_grace(api)):
        assert api.sweep()["uploads"] == {"failed": 1}
    stored = api.store.get_artifact(sid, artifact["artifactId"])
    assert stored.status.value == "failed" and stored.error is not None and "HTML" in stored.error


def test_a_notification_that_came_first_leaves_the_sweep_nothing_to_do(api, s3):
    sid = api.create("alice")["sessionId"]
    artifact = uploaded(api, s3, sid, png(2, 2))
    assert notify(s3, artifact["objectKey"]) == {"completed": 1}
    before = api.store.get_artifact(sid, artifact["artifactId"])
    with later(api, past_form_expiry(api)):
        assert api.sweep()["uploads"] == {}
    assert api.store.get_artifact(sid, artifact["artifactId"]) == before


def test_no_object_waits_while_the_form_is_valid_then_fails_once_it_expired(api, s3, management):
    sid = api.create("alice")["sessionId"]
    api.listen(sid, "speaker-1", role="speaker")
    artifact = create_artifact(api, sid)["artifact"]
    with later(api, past_grace(api)):
        assert api.sweep()["uploads"] == {"waiting": 1}  # the client may still upload with its form
    assert api.store.get_artifact(sid, artifact["artifactId"]).status.value == "pending"
    with later(api, past_form_expiry(api)):
        assert api.sweep()["uploads"] == {"failed": 1}
        assert api.sweep()["uploads"] == {}
    stored = api.store.get_artifact(sid, artifact["artifactId"])
    assert (stored.status.value, stored.error, stored.sizeBytes) == ("failed", NEVER_UPLOADED, None)
    (frame,) = management.sent["speaker-1"]
    assert frame["artifact"]["status"] == "failed" and frame["artifact"]["error"] == NEVER_UPLOADED


def test_an_artifact_moved_by_hand_is_not_awaiting_its_upload(api, s3):
    sid = api.create("alice")["sessionId"]
    artifact = create_artifact(api, sid)["artifact"]
    path = f"/sessions/{sid}/artifacts/{artifact['artifactId']}"
    assert api.http("PATCH", path, user="alice", body={"status": "processing"}).status == 200
    with later(api, past_form_expiry(api)):
        assert api.sweep()["uploads"] == {}
    assert api.store.get_artifact(sid, artifact["artifactId"]).status.value == "processing"
