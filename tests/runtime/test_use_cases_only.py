"""HTTP routes, WebSocket actions and the sweep change sessions and artifacts only through
session_runtime/use_cases.py (store + notify, TTLs bound there), so a PATCH and a `pause`, a DELETE, an `end` and a
sweep cannot drift apart; and what those use cases do for artifacts: a pending record with an upload bounded by
the settings, and a status change told to the session's connections at the seq it was kept at."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from session_runtime import use_cases
from session_schema.errors import ArtifactNotFound
from session_schema.models import Connection
from session_schema.status import ArtifactStatus

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
HANDLERS = ("http_session_handler", "connection_handler", "upload_handler")
CALLERS = sorted(p for folder in HANDLERS for p in (LAMBDAS / folder).glob("*.py"))


@pytest.mark.parametrize(
    "pattern",
    [
        r"store\.change_status\(",
        r"store\.update_session\(",
        r"store\.append_message\(",
        r"ended_session_ttl_days",
        r"message_ttl_days",
        r"notify\.session_changed\(",
        r"notify\.message_stored\(",
        r"store\.create_artifact\(",
        r"store\.change_artifact_status\(",
        r"notify\.artifact_changed\(",
        r"generate_presigned_post",
        r"delete_object\(",
        r"store\.delete_artifact\(",
        r"upload_url_expiry_seconds",
    ],
)
def test_no_handler_runs_a_session_change_itself(pattern: str) -> None:
    found = [f"{p.parent.name}/{p.name}" for p in CALLERS if re.search(pattern, p.read_text(encoding="utf-8"))]
    assert found == [], f"{pattern} in {found}: call session_runtime.use_cases instead"


def _session_with_a_listener(runtime):
    session, _ = runtime.store.create_session(owner_id="alice", title="t", source_language="en", max_listeners=5)
    listener = Connection(connectionId="L1", sessionId=session.sessionId, role="listener", connectedAt=1, expiresAt=2)
    runtime.store.register_connection(listener)
    return session


def test_creating_an_artifact_stores_it_pending_under_its_key_with_an_upload_bounded_by_the_settings(runtime):
    session = _session_with_a_listener(runtime)
    artifact, upload = use_cases.create_artifact(
        runtime, session, kind="image", content_type="image/png", file_name="slide.png", size_bytes=None
    )
    assert runtime.store.get_artifact(session.sessionId, artifact.artifactId) == artifact
    assert artifact.status is ArtifactStatus.PENDING
    assert artifact.objectKey == f"alice/{session.sessionId}/image/{artifact.artifactId}/slide.png"
    assert upload["fields"]["key"] == artifact.objectKey
    assert upload["maxBytes"] == runtime.settings.max_upload_bytes
    assert upload["expiresAt"] == artifact.createdAt + runtime.settings.upload_url_expiry_seconds * 1000
    assert runtime.management.sent == {}  # nobody is told of a new artifact
    exact = use_cases.create_artifact(
        runtime, session, kind="image", content_type="image/png", file_name="a.png", size_bytes=42
    )[1]
    assert exact["maxBytes"] == 42


def test_an_artifact_status_change_is_told_to_the_session_at_the_seq_it_was_kept_at(runtime):
    session = _session_with_a_listener(runtime)
    artifact, _ = use_cases.create_artifact(
        runtime, session, kind="image", content_type="image/png", file_name="slide.png", size_bytes=None
    )
    before, after = use_cases.change_artifact_status(
        runtime, session.sessionId, artifact.artifactId, ArtifactStatus.PROCESSING, runtime.fanout
    )
    assert (before.status, after.status) == (ArtifactStatus.PENDING, ArtifactStatus.PROCESSING)
    [told] = runtime.management.sent["L1"]
    assert told["type"] == "artifactUpdated"
    assert (told["artifact"]["artifactId"], told["artifact"]["status"]) == (artifact.artifactId, "processing")
    assert told["seq"] == runtime.store.get_session(session.sessionId).seq


def test_deleting_an_artifact_removes_its_object_then_its_record_and_again_is_nothing(runtime):
    session = _session_with_a_listener(runtime)
    artifact, _ = use_cases.create_artifact(
        runtime, session, kind="image", content_type="image/png", file_name="slide.png", size_bytes=None
    )
    bucket = runtime.settings.artifacts_bucket
    runtime.s3.put_object(Bucket=bucket, Key=artifact.objectKey, Body=b"png")
    deleted = use_cases.delete_artifact(runtime, session.sessionId, artifact.artifactId)
    assert deleted == use_cases.SubtreeDeleted(artifact, done=True, objects=1, results=0)
    assert runtime.s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    with pytest.raises(ArtifactNotFound):
        runtime.store.get_artifact(session.sessionId, artifact.artifactId)
    again = use_cases.delete_artifact(runtime, session.sessionId, artifact.artifactId)
    assert again == use_cases.SubtreeDeleted(None, done=True)
    assert runtime.management.sent == {}  # nobody is told of a deletion


def test_an_artifact_whose_object_cannot_be_deleted_keeps_its_record_for_a_retry(runtime, monkeypatch):
    session = _session_with_a_listener(runtime)
    artifact, _ = use_cases.create_artifact(
        runtime, session, kind="image", content_type="image/png", file_name="slide.png", size_bytes=None
    )

    def refused(**_: object) -> None:
        raise RuntimeError("S3 refused")

    monkeypatch.setattr(runtime.s3, "delete_objects", refused)
    with pytest.raises(RuntimeError):
        use_cases.delete_artifact(runtime, session.sessionId, artifact.artifactId)
    assert runtime.store.get_artifact(session.sessionId, artifact.artifactId) == artifact  # the key is still known
