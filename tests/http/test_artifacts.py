"""Artifact routes through the handler (real v2 events, moto DynamoDB and S3, the captured management API).

Uploads: moto stores whatever a presigned POST sends and checks none of its policy, so `upload()` below
first judges the form the way S3 does (the SigV4 signature over the policy, its expiration, every
condition, no form field left uncovered) and only then sends it, with `requests`, to moto's S3. An upload
refused by the policy therefore never lands, and one the policy allows lands where moto puts it.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import pytest
import requests

from http_session_handler import app, openapi
from session_schema.artifact_kinds import DEFAULT_KINDS, parse_kinds
from session_schema.cursor import decode_cursor, encode_cursor
from session_schema.errors import ArtifactNotFound
from session_schema.status import ArtifactStatus
from session_schema.storage import artifact_object_key, artifact_prefix
from session_store.dynamo import SESSION_ARTIFACTS

from local.s3 import Refusal, post_policy_refusal
from tests.support.aws import BUCKET_NAME, fixed_cursor_seal

ARTIFACT_FIELDS = {
    "artifactId",
    "sessionId",
    "kind",
    "contentType",
    "fileName",
    "objectKey",
    "status",
    "error",
    "createdAt",
    "updatedAt",
    "processingStartedAt",
    "completedAt",
    "processingMs",
    "uploadedAt",
    "sizeBytes",
    "etag",
    "width",
    "height",
    "parentId",
    "processor",
    "shared",
    "keep",
}
UPLOAD_FIELDS = {"method", "url", "fields", "headers", "expiresAt", "maxBytes"}
PNG = {"kind": "image", "contentType": "image/png", "fileName": "slide 1.png"}
# The contract's lifecycle, spelled here independently of session_schema.status.
LEGAL = {
    ("pending", "processing"),
    ("pending", "completed"),  # an upload of a kind with no processor, confirmed (by storage or the owner)
    ("processing", "completed"),
    ("processing", "failed"),
    ("pending", "failed"),
}
STATES = ("pending", "processing", "completed", "failed")
# How to bring a new (pending) artifact to each state by legal moves.
PATH_TO = {"pending": [], "processing": ["processing"], "completed": ["processing", "completed"], "failed": ["failed"]}


# ------------------------------------------------------------------ S3's POST policy, as S3 judges it


def s3_refusal(url: str, form: dict[str, str], size: int, client: Any, now: datetime | None = None) -> Refusal | None:
    """Why S3 would refuse this browser-based POST upload (None: it would accept it): the local S3's judge
    (local/s3/post_policy.py, tested on its own in tests/local), with the secret key of `client`'s credentials."""
    credentials = client._request_signer._credentials.get_frozen_credentials()
    bucket = urlparse(url).hostname.split(".")[0]  # moto's in-process S3 presigns virtual-hosted URLs
    return post_policy_refusal(bucket, form, size, {credentials.access_key: credentials.secret_key}, now)


def upload(s3_client, upload_view: dict[str, Any], content: bytes, **changes: str) -> tuple[int, str]:
    """Send `content` with the presigned form (plus `changes`, as a client might alter it): (status, why)."""
    assert upload_view["method"] == "POST" and upload_view["headers"] == {}
    form = dict(upload_view["fields"]) | changes
    refusal = s3_refusal(upload_view["url"], form, len(content), s3_client)
    if refusal:
        return refusal.status, f"{refusal.code}: {refusal.message}"
    response = requests.post(upload_view["url"], data=form, files={"file": ("upload.bin", content)}, timeout=10)
    return response.status_code, response.text


def bucket_keys(s3_client) -> list[str]:
    return [o["Key"] for o in s3_client.list_objects_v2(Bucket=BUCKET_NAME).get("Contents", [])]


# ------------------------------------------------------------------ helpers


def create_artifact(api, sid: str, user: str = "alice", **body: Any) -> dict[str, Any]:
    answer = api.http("POST", f"/sessions/{sid}/artifacts", user=user, body=PNG | body)
    assert answer.status == 201, answer.raw_body
    return answer.body


def patch(api, sid: str, artifact_id: str, user: str = "alice", **body: Any):
    return api.http("PATCH", f"/sessions/{sid}/artifacts/{artifact_id}", user=user, body=body)


@pytest.fixture
def clock(api):
    """A controlled store clock (ms): `clock.now` is the time of the next write; `clock.tick(ms)` moves it."""

    class Clock:
        now = 1_700_000_000_000

        def __call__(self) -> int:
            return self.now

        def tick(self, ms: int) -> None:
            self.now += ms

    c = Clock()
    api.store.clock = c
    return c


# ------------------------------------------------------------------ create and upload


def test_create_answers_a_pending_artifact_and_a_presigned_post_for_its_derived_key(api, s3, clock):
    sid = api.create("alice")["sessionId"]
    answer = api.http("POST", f"/sessions/{sid}/artifacts", user="alice", body=PNG)
    assert answer.status == 201, answer.raw_body
    artifact, up = answer.body["artifact"], answer.body["upload"]
    assert set(artifact) == ARTIFACT_FIELDS and set(up) == UPLOAD_FIELDS
    assert artifact["artifactId"].startswith("art_") and len(artifact["artifactId"]) == 30
    assert artifact["status"] == "pending" and artifact["sessionId"] == sid
    assert artifact["createdAt"] == artifact["updatedAt"] == clock.now
    assert artifact["error"] is artifact["completedAt"] is artifact["processingMs"] is None
    key = artifact_object_key("alice", sid, "image", artifact["artifactId"], "slide 1.png")
    assert artifact["objectKey"] == key and key.startswith(artifact_prefix("alice", sid, "image"))
    assert up["fields"]["key"] == key and up["fields"]["Content-Type"] == "image/png"
    assert up["expiresAt"] == clock.now + 300_000  # UPLOAD_URL_EXPIRY_SECONDS
    assert up["maxBytes"] == api.runtime.settings.max_upload_bytes
    policy = json.loads(base64.b64decode(up["fields"]["policy"]))
    expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert timedelta(seconds=290) < expiration - datetime.now(UTC) <= timedelta(seconds=300)
    conditions = policy["conditions"]
    assert {"key": key} in conditions and {"bucket": BUCKET_NAME} in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 1, api.runtime.settings.max_upload_bytes] in conditions
    stored = api.store.get_artifact(sid, artifact["artifactId"])
    assert stored.status is ArtifactStatus.PENDING and stored.ownerId == "alice" and stored.view() == artifact
    assert bucket_keys(s3) == []  # nothing is stored before the client uploads


def test_an_upload_with_the_presigned_form_lands_under_the_derived_key_and_nowhere_else(api, s3):
    sid = api.create("alice")["sessionId"]
    created = create_artifact(api, sid)
    status, why = upload(s3, created["upload"], b"\x89PNG fake image bytes")
    assert status == 204, why
    key = created["artifact"]["objectKey"]
    assert bucket_keys(s3) == [key]
    under_prefix = s3.list_objects_v2(Bucket=BUCKET_NAME, Prefix=f"alice/{sid}/image/")["Contents"]
    assert [o["Key"] for o in under_prefix] == [key]
    stored = s3.get_object(Bucket=BUCKET_NAME, Key=key)
    assert stored["ContentType"] == "image/png" and stored["Body"].read() == b"\x89PNG fake image bytes"


def test_the_signed_policy_refuses_another_content_type_key_or_bucket_and_an_altered_policy(api, s3):
    sid = api.create("alice")["sessionId"]
    up = create_artifact(api, sid)["upload"]
    other_key = artifact_object_key("alice", sid, "image", "art_" + "0" * 26, "x.png")
    attempts = {
        "content type": {"Content-Type": "text/html"},
        "key": {"key": other_key},
        "key elsewhere": {"key": f"bob/{sid}/image/x.png"},
        "extra field": {"acl": "public-read"},
        "policy": {
            "policy": base64.b64encode(
                json.dumps({"expiration": "2099-01-01T00:00:00Z", "conditions": []}).encode()
            ).decode()
        },
    }
    for name, change in attempts.items():
        status, why = upload(s3, up, b"data", **change)
        assert status == 403, (name, why)
    assert "SignatureDoesNotMatch" in upload(s3, up, b"data", policy=attempts["policy"]["policy"])[1]
    elsewhere = dict(up, url=up["url"].replace(BUCKET_NAME, "another-bucket"))
    assert upload(s3, elsewhere, b"data")[0] == 403
    assert bucket_keys(s3) == []
    # ...and the untouched form is accepted: the refusals above come from the changes.
    assert upload(s3, up, b"data")[0] == 204


def test_the_policy_bounds_the_size_and_expires(api, s3):
    api.runtime.settings = api.runtime.settings.model_copy(update={"max_upload_bytes": 16})
    sid = api.create("alice")["sessionId"]
    up = create_artifact(api, sid)["upload"]
    assert up["maxBytes"] == 16
    assert upload(s3, up, b"")[0] == 400  # EntityTooSmall: an empty upload is no artifact
    assert upload(s3, up, b"x" * 17) == (400, "EntityTooLarge: Your proposed upload exceeds the maximum allowed size")
    later = datetime.now(UTC) + timedelta(seconds=301)
    expired = s3_refusal(up["url"], up["fields"], 4, s3, now=later)
    assert expired and (expired.status, expired.message) == (403, "Invalid according to Policy: Policy expired.")
    assert bucket_keys(s3) == []
    assert upload(s3, up, b"x" * 16)[0] == 204


def test_a_declared_size_is_the_exact_size_allowed_and_over_the_limit_is_refused_up_front(api, s3):
    sid = api.create("alice")["sessionId"]
    up = create_artifact(api, sid, sizeBytes=5)["upload"]
    assert up["maxBytes"] == 5
    assert upload(s3, up, b"1234")[1].startswith("EntityTooSmall:")
    assert upload(s3, up, b"123456")[1].startswith("EntityTooLarge:")
    assert upload(s3, up, b"12345")[0] == 204
    limit = api.runtime.settings.max_upload_bytes
    too_big = api.http("POST", f"/sessions/{sid}/artifacts", user="alice", body=PNG | {"sizeBytes": limit + 1})
    assert too_big.status == 400 and too_big.error["field"] == "sizeBytes"
    assert len(api.store.list_artifacts(sid, limit=10, cursor=None).items) == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "Images"),
        ("kind", "a/b"),
        ("kind", ""),
        ("contentType", "image"),
        ("contentType", "text/plain; charset=utf-8"),
        ("fileName", "../../etc/passwd"),
        ("fileName", "a/b.png"),
        ("fileName", ""),
        ("fileName", "x" * 256),
        ("sizeBytes", 0),
        ("sizeBytes", "12"),
        ("kind", 3),
        ("kind", "executable"),  # not a declared kind
        ("contentType", "text/html"),  # served back from our bucket as a page
        ("contentType", "image/svg+xml"),  # an "image" that can carry script
        ("contentType", "audio/webm"),  # a real type, but not an image's
    ],
)
def test_a_bad_field_is_a_validation_error_naming_it_and_creates_nothing(api, field, value):
    sid = api.create("alice")["sessionId"]
    answer = api.http("POST", f"/sessions/{sid}/artifacts", user="alice", body=PNG | {field: value})
    assert answer.status == 400, answer.raw_body
    assert (answer.error["code"], answer.error["field"]) == ("VALIDATION_ERROR", field)
    assert api.store.list_artifacts(sid, limit=10, cursor=None).items == []


def test_every_declared_kind_accepts_each_of_its_content_types_and_names_them_when_refusing(api):
    sid = api.create("alice")["sessionId"]
    for declared in DEFAULT_KINDS:
        for content_type in declared.contentTypes:
            created = api.http(
                "POST",
                f"/sessions/{sid}/artifacts",
                user="alice",
                body={"kind": declared.name, "contentType": content_type, "fileName": "a.bin"},
            )
            assert created.status == 201, (declared.name, content_type, created.raw_body)
    refused = api.http("POST", f"/sessions/{sid}/artifacts", user="alice", body=PNG | {"contentType": "text/html"})
    assert "image/png" in refused.error["message"] and "text/html" in refused.error["message"]


REFERENCE_FRAMES = {"kind": "reference-frames", "contentType": "image/png", "fileName": "angle 1.png"}


def test_the_default_declaration_refuses_reference_frames_naming_the_declared_kinds(api):
    sid = api.create("alice")["sessionId"]
    refused = api.http("POST", f"/sessions/{sid}/artifacts", user="alice", body=REFERENCE_FRAMES)
    assert refused.status == 400 and refused.error["field"] == "kind", refused.raw_body
    assert "image, frames, recording, transcript" in refused.error["message"]


def test_a_deployment_declaring_reference_frames_accepts_them_within_its_own_types_and_size(api, s3):
    declared = '[{"name": "reference-frames", "contentTypes": ["image/png"], "maxBytes": 5, "processor": "stager"}]'
    api.runtime.settings = api.runtime.settings.model_copy(update={"artifact_kinds": parse_kinds(declared)})
    sid = api.create("alice")["sessionId"]
    created = api.http("POST", f"/sessions/{sid}/artifacts", user="alice", body=REFERENCE_FRAMES)
    assert created.status == 201, created.raw_body
    assert created.body["artifact"]["objectKey"].startswith(f"alice/{sid}/reference-frames/")
    assert created.body["upload"]["maxBytes"] == 5  # the kind's own maximum, not MAX_UPLOAD_BYTES
    assert upload(s3, created.body["upload"], b"123456")[1].startswith("EntityTooLarge:")
    jpeg = api.http(
        "POST", f"/sessions/{sid}/artifacts", user="alice", body=REFERENCE_FRAMES | {"contentType": "image/jpeg"}
    )
    assert (jpeg.status, jpeg.error["field"]) == (400, "contentType") and "image/png" in jpeg.error["message"]
    image = api.http("POST", f"/sessions/{sid}/artifacts", user="alice", body=PNG)  # not declared here any more
    assert (image.status, image.error["field"]) == (400, "kind") and "reference-frames" in image.error["message"]
    too_big = api.http("POST", f"/sessions/{sid}/artifacts", user="alice", body=REFERENCE_FRAMES | {"sizeBytes": 6})
    assert (too_big.status, too_big.error["field"]) == (400, "sizeBytes")
    schemas = openapi.document(app.app, api.runtime.settings)["components"]["schemas"]  # served once per process
    document = schemas["CreateArtifactRequest"]
    assert document["properties"]["kind"]["enum"] == ["reference-frames"]
    assert document["allOf"][0]["then"]["properties"]["contentType"]["enum"] == ["image/png"]


def test_missing_and_unknown_fields_are_validation_errors(api):
    sid = api.create("alice")["sessionId"]
    missing = api.http("POST", f"/sessions/{sid}/artifacts", user="alice", body={"kind": "image", "fileName": "a.png"})
    assert missing.status == 400 and missing.error["field"] == "contentType"
    extra = api.http("POST", f"/sessions/{sid}/artifacts", user="alice", body=PNG | {"objectKey": "bob/x"})
    assert extra.status == 400 and extra.error["field"] == "objectKey"


def test_an_ended_session_still_takes_uploads_and_its_artifacts_stay_readable(api, s3):
    sid = api.create("alice")["sessionId"]
    before = create_artifact(api, sid)
    assert api.http("DELETE", f"/sessions/{sid}", user="alice").status == 204
    after = create_artifact(api, sid, kind="recording", contentType="audio/webm", fileName="talk.webm")
    assert after["artifact"]["objectKey"].startswith(f"alice/{sid}/recording/")
    assert upload(s3, after["upload"], b"webm")[0] == 204
    assert patch(api, sid, after["artifact"]["artifactId"], status="processing").status == 200
    listed = api.http("GET", f"/sessions/{sid}/artifacts", user="alice")
    assert listed.status == 200
    assert {a["artifactId"] for a in listed.body["items"]} == {
        before["artifact"]["artifactId"],
        after["artifact"]["artifactId"],
    }


# ------------------------------------------------------------------ who may


def test_another_user_can_neither_see_nor_touch_the_artifacts(api, s3):
    sid = api.create("alice")["sessionId"]
    created = create_artifact(api, sid)
    aid = created["artifact"]["artifactId"]
    assert upload(s3, created["upload"], b"img")[0] == 204

    listed = api.http("GET", f"/sessions/{sid}/artifacts", user="bob")
    assert listed.status == 404 and listed.error["code"] == "SESSION_NOT_FOUND"
    for method, path, body in (
        ("POST", f"/sessions/{sid}/artifacts", PNG),
        ("PATCH", f"/sessions/{sid}/artifacts/{aid}", {"status": "processing"}),
        ("DELETE", f"/sessions/{sid}/artifacts/{aid}", None),
    ):
        answer = api.http(method, path, user="bob", body=body)
        assert answer.status == 403 and answer.error["code"] == "FORBIDDEN", (method, answer.raw_body)
    assert [a.view() for a in api.store.list_artifacts(sid, limit=10, cursor=None).items] == [created["artifact"]]
    assert bucket_keys(s3) == [created["artifact"]["objectKey"]]


def test_an_unknown_session_is_404_for_every_artifact_route(api):
    aid = "art_01JABCDEFGHJKMNPQRSTVWXYZ0"
    for method, path, body in (
        ("POST", "/sessions/quiet-river-000/artifacts", PNG),
        ("GET", "/sessions/quiet-river-000/artifacts", None),
        ("PATCH", f"/sessions/quiet-river-000/artifacts/{aid}", {"status": "processing"}),
        ("DELETE", f"/sessions/quiet-river-000/artifacts/{aid}", None),
    ):
        answer = api.http(method, path, user="alice", body=body)
        assert answer.status == 404 and answer.error["code"] == "SESSION_NOT_FOUND", (method, answer.raw_body)


def test_an_unknown_artifact_is_404_and_a_malformed_id_is_a_validation_error(api):
    sid = api.create("alice")["sessionId"]
    other = api.create("alice")["sessionId"]
    theirs = create_artifact(api, other)["artifact"]["artifactId"]
    for aid in ("art_01JABCDEFGHJKMNPQRSTVWXYZ0", theirs):  # an artifact of another session is not this one's
        answer = patch(api, sid, aid, status="processing")
        assert answer.status == 404 and answer.error["code"] == "ARTIFACT_NOT_FOUND"
    for bad in ("art_short", "msg_01JABCDEFGHJKMNPQRSTVWXYZ0", "art_01jabcdefghjkmnpqrstvwxyz0"):
        answer = patch(api, sid, bad, status="processing")
        assert answer.status == 400 and answer.error["field"] == "artifactId", bad
    assert api.store.get_artifact(other, theirs).status is ArtifactStatus.PENDING


# ------------------------------------------------------------------ lifecycle


@pytest.mark.parametrize("start", STATES)
@pytest.mark.parametrize("target", STATES)
def test_every_transition_is_allowed_exactly_when_the_contract_says(api, start, target):
    sid = api.create("alice")["sessionId"]
    aid = create_artifact(api, sid)["artifact"]["artifactId"]
    for step in PATH_TO[start]:
        assert patch(api, sid, aid, status=step).status == 200
    answer = patch(api, sid, aid, status=target)
    stored = api.store.get_artifact(sid, aid)
    if (start, target) in LEGAL:
        assert answer.status == 200, answer.raw_body
        assert answer.body["status"] == target and stored.status.value == target
        assert answer.body == stored.view()
    else:
        assert answer.status == 409, answer.raw_body
        assert answer.error["code"] == "INVALID_TRANSITION"
        assert (answer.error["from"], answer.error["to"], answer.error["field"]) == (start, target, "status")
        assert start in answer.error["message"] and target in answer.error["message"]
        assert stored.status.value == start  # nothing written


def test_processing_time_and_completion_are_recorded(api, clock):
    sid = api.create("alice")["sessionId"]
    done = create_artifact(api, sid)["artifact"]["artifactId"]
    clock.tick(1_000)
    started = patch(api, sid, done, status="processing").body
    assert started["processingStartedAt"] == clock.now and started["completedAt"] is None
    clock.tick(2_500)
    completed = patch(api, sid, done, status="completed").body
    assert completed["completedAt"] == completed["updatedAt"] == clock.now
    assert completed["processingMs"] == 2_500 and completed["error"] is None

    broken = create_artifact(api, sid)["artifact"]["artifactId"]
    patch(api, sid, broken, status="processing")
    clock.tick(400)
    failed = patch(api, sid, broken, status="failed", error="unsupported codec").body
    assert failed["error"] == "unsupported codec" and failed["processingMs"] == 400

    never = create_artifact(api, sid)["artifact"]["artifactId"]
    rejected = patch(api, sid, never, status="failed").body
    assert rejected["completedAt"] == clock.now and rejected["processingMs"] is None
    assert rejected["error"] == "processing failed"  # a failure always says something


def test_error_goes_only_with_failed(api):
    sid = api.create("alice")["sessionId"]
    aid = create_artifact(api, sid)["artifact"]["artifactId"]
    for body in (
        {"status": "processing", "error": "x"},
        {"status": "failed", "error": "x" * 1001},
        {"status": "failed", "error": ""},
    ):
        answer = patch(api, sid, aid, **body)
        assert answer.status == 400 and answer.error["field"] == "error", body
    for body in ({}, {"status": "done"}, {"status": None}):
        answer = patch(api, sid, aid, **body)
        assert answer.status == 400 and answer.error["field"] == "status", body
    assert api.store.get_artifact(sid, aid).status is ArtifactStatus.PENDING


# ------------------------------------------------------------------ live updates


def test_each_status_change_reaches_every_connection_of_the_session_as_artifact_updated(api, management):
    sid = api.create("alice")["sessionId"]
    elsewhere = api.create("carol")["sessionId"]
    api.listen(sid, "speaker-1", role="speaker")
    api.listen(sid, "listener-1")
    api.listen(elsewhere, "listener-other")
    aid = create_artifact(api, sid)["artifact"]["artifactId"]
    assert not management.sent  # registering an upload is not a status change

    processing = patch(api, sid, aid, status="processing").body
    shared = patch(api, sid, aid, shared=True).body
    completed = patch(api, sid, aid, status="completed").body
    views = (processing, shared, completed)
    public = [{k: v for k, v in view.items() if k not in ("objectKey", "etag", "keep")} for view in views]
    expected = [{"type": "artifactUpdated", "artifact": view, "seq": n} for n, view in enumerate(public, 1)]
    assert management.sent["speaker-1"] == expected
    # Listeners: of an unshared artifact only that it exists and its status; once shared, its public view.
    glimpse = {"artifactId": aid, "status": "processing", "shared": False}
    assert management.sent["listener-1"] == [
        {"type": "artifactUpdated", "artifact": glimpse, "seq": 1},
        *expected[1:],
    ]
    for conn in ("speaker-1", "listener-1"):
        # the storage path starts with the owner's ID, which listeners never see; no URL is ever pushed
        assert all("objectKey" not in m["artifact"] and "url" not in m["artifact"] for m in management.sent[conn])
    assert "listener-other" not in management.sent
    assert patch(api, sid, aid, status="failed").status == 409
    assert patch(api, sid, aid, shared=True).status == 200  # already shared: nothing changes
    assert len(management.sent["listener-1"]) == 3  # a refused move or a repeat tells nobody anything


def test_a_failed_fanout_still_answers_the_change_it_made(api, management, monkeypatch, logs):
    sid = api.create("alice")["sessionId"]
    aid = create_artifact(api, sid)["artifact"]["artifactId"]

    def broken(*args, **kwargs):
        raise RuntimeError("connections query failed")

    monkeypatch.setattr(api.runtime.fanout, "send_many", broken)  # every fan-out of a session
    answer = patch(api, sid, aid, status="processing")
    assert answer.status == 200 and answer.body["status"] == "processing"
    assert api.store.get_artifact(sid, aid).status is ArtifactStatus.PROCESSING
    assert any(line["message"] == "could not notify connections" for line in logs.lines)


# ------------------------------------------------------------------ listing


def test_listing_is_newest_first_across_pages(api, clock):
    sid = api.create("alice")["sessionId"]
    made = []
    for i in range(5):
        clock.tick(10)
        made.append(create_artifact(api, sid, fileName=f"f{i}.png")["artifact"]["artifactId"])
    other = api.create("alice")["sessionId"]
    create_artifact(api, other)
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        answer = api.http("GET", f"/sessions/{sid}/artifacts", user="alice", query=query)
        assert answer.status == 200, answer.raw_body
        assert all(set(item) == ARTIFACT_FIELDS and item["sessionId"] == sid for item in answer.body["items"])
        seen += [item["artifactId"] for item in answer.body["items"]]
        pages += 1
        cursor = answer.body["nextCursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == made[::-1]
    everything = api.http("GET", f"/sessions/{sid}/artifacts", user="alice").body
    assert [a["artifactId"] for a in everything["items"]] == made[::-1] and everything["nextCursor"] is None


def test_listing_refuses_a_tampered_or_foreign_cursor_and_a_bad_limit(api):
    sid = api.create("alice")["sessionId"]
    other = api.create("alice")["sessionId"]
    for session in (sid, other):
        for _ in range(3):
            create_artifact(api, session)
    cursor = api.http("GET", f"/sessions/{sid}/artifacts", user="alice", query={"limit": "1"}).body["nextCursor"]
    foreign = api.http("GET", f"/sessions/{other}/artifacts", user="alice", query={"limit": "1"}).body["nextCursor"]
    # Sealed with the deployment's own key for this listing, yet a message's key: still refused (never a 500).
    seal, partition, prefix = fixed_cursor_seal(), ("PK", f"SESSION#{sid}"), ("SK", "ART#")
    attributes = SESSION_ARTIFACTS.cursor_attributes
    decoded = decode_cursor(seal, cursor, attributes=attributes, partition=partition, sort_prefix=prefix)
    forged = decoded | {"SK": "MSG#" + decoded["SK"]}
    messages = encode_cursor(seal, forged, partition=partition, sort_prefix=prefix)
    for bad in (cursor[:-3] + "zzz", "not-a-cursor", foreign, messages, "x" * 3000):
        answer = api.http("GET", f"/sessions/{sid}/artifacts", user="alice", query={"cursor": bad})
        assert answer.status == 400, bad
        assert (answer.error["code"], answer.error["field"]) == ("VALIDATION_ERROR", "cursor")
    for limit in ("0", "101", "x"):
        answer = api.http("GET", f"/sessions/{sid}/artifacts", user="alice", query={"limit": limit})
        assert answer.status == 400 and answer.error["field"] == "limit"


# ------------------------------------------------------------------ delete


def test_delete_removes_the_object_and_the_record_and_is_repeatable(api, s3):
    sid = api.create("alice")["sessionId"]
    kept = create_artifact(api, sid, fileName="kept.png")
    gone = create_artifact(api, sid, fileName="gone.png")
    for created in (kept, gone):
        assert upload(s3, created["upload"], b"png")[0] == 204
    aid = gone["artifact"]["artifactId"]
    path = f"/sessions/{sid}/artifacts/{aid}"
    answer = api.http("DELETE", path, user="alice")
    assert answer.status == 204 and answer.raw_body is None
    assert bucket_keys(s3) == [kept["artifact"]["objectKey"]]
    with pytest.raises(ArtifactNotFound):
        api.store.get_artifact(sid, aid)
    listed = api.http("GET", f"/sessions/{sid}/artifacts", user="alice").body["items"]
    assert [a["artifactId"] for a in listed] == [kept["artifact"]["artifactId"]]
    assert api.http("DELETE", path, user="alice").status == 204  # repeatable
    assert patch(api, sid, aid, status="processing").status == 404


def test_a_never_uploaded_artifact_deletes_too(api, s3):
    sid = api.create("alice")["sessionId"]
    aid = create_artifact(api, sid)["artifact"]["artifactId"]
    assert api.http("DELETE", f"/sessions/{sid}/artifacts/{aid}", user="alice").status == 204
    assert api.store.list_artifacts(sid, limit=10, cursor=None).items == []


def test_when_the_object_cannot_be_deleted_the_record_stays_for_a_retry(api, s3, monkeypatch):
    sid = api.create("alice")["sessionId"]
    created = create_artifact(api, sid)
    aid = created["artifact"]["artifactId"]
    assert upload(s3, created["upload"], b"png")[0] == 204
    real_delete = s3.delete_objects

    def denied(**kwargs):  # S3 answers DeleteObjects 200 and names each key it refused
        keys = [o["Key"] for o in kwargs["Delete"]["Objects"]]
        return {"Errors": [{"Key": key, "Code": "AccessDenied", "Message": "Access Denied"} for key in keys]}

    monkeypatch.setattr(s3, "delete_objects", denied)
    answer = api.http("DELETE", f"/sessions/{sid}/artifacts/{aid}", user="alice")
    assert answer.status == 500 and answer.error["code"] == "INTERNAL_ERROR" and "AccessDenied" not in answer.raw_body
    assert api.store.get_artifact(sid, aid).artifactId == aid
    monkeypatch.setattr(s3, "delete_objects", real_delete)
    assert api.http("DELETE", f"/sessions/{sid}/artifacts/{aid}", user="alice").status == 204
    assert bucket_keys(s3) == []
