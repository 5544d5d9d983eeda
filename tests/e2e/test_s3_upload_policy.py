"""The local stack's S3 enforces a presigned POST's policy as S3 does (local/s3/post_policy.py): each bound the
handler signs refuses an upload outside it, with S3's status and error XML, and stores nothing; the form as
issued still uploads (the README's Try it uploads a PNG with it).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
import requests

from session_schema.storage import artifact_object_key

from local import dynamodb
from local.stack import LocalStack
from tests.support.local_stack import http

pytestmark = pytest.mark.e2e

PNG = {"kind": "image", "contentType": "image/png", "fileName": "slide.png"}
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def issued(stack: LocalStack) -> dict[str, Any]:
    """A session of `alice` and the upload form the handler issued for one of its images."""
    owner = stack.mint("alice")
    session_id = http(stack, "POST", "/sessions", owner, json={"title": "Slides"}).json()["sessionId"]
    created = http(stack, "POST", f"/sessions/{session_id}/artifacts", owner, json=PNG)
    assert created.status_code == 201, created.text
    return {"sessionId": session_id, **created.json()}


def post(upload: dict[str, Any], content: bytes, **changes: str) -> requests.Response:
    form = dict(upload["fields"]) | changes
    return requests.post(upload["url"], data=form, files={"file": ("slide.png", content)}, timeout=60)


def error_of(response: requests.Response) -> tuple[int, str, str]:
    error = ET.fromstring(response.content)
    return response.status_code, error.findtext("Code") or "", error.findtext("Message") or ""


def keys(stack: LocalStack) -> list[str]:
    assert stack.urls is not None
    listed = dynamodb.client("s3", stack.urls.s3).list_objects_v2(Bucket=stack.bucket_name)
    return [o["Key"] for o in listed.get("Contents", [])]


def test_each_bound_of_the_signed_policy_refuses_as_s3_does(stack: LocalStack, issued: dict[str, Any]) -> None:
    upload, session_id = issued["upload"], issued["sessionId"]
    key = issued["artifact"]["objectKey"]
    bobs = artifact_object_key("bob", session_id, "image", issued["artifact"]["artifactId"], "slide.png")

    status, code, message = error_of(post(upload, b"x" * (26 * MiB)))  # over the 25 MiB the policy allows
    assert (status, code, message) == (400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
    assert error_of(post(upload, b""))[:2] == (400, "EntityTooSmall")
    assert error_of(post(upload, b"<html>", **{"Content-Type": "text/html"})) == (
        403,
        "AccessDenied",
        'Invalid according to Policy: Policy Condition failed: ["eq", "$Content-Type", "image/png"]',
    )
    for other in (bobs, f"alice/{session_id}/image/../../../bob/{session_id}/image/x.png", key + "/../x.png"):
        status, code, message = error_of(post(upload, b"\x89PNG", key=other))
        assert (status, code) == (403, "AccessDenied") and f'["eq", "$key", "{key}"]' in message, other
    assert error_of(post(upload, b"\x89PNG", acl="public-read"))[2] == (
        "Invalid according to Policy: Extra input fields: acl"
    )
    tampered = upload["fields"]["x-amz-signature"][:-4] + "0000"
    assert error_of(post(upload, b"\x89PNG", **{"x-amz-signature": tampered}))[:2] == (403, "SignatureDoesNotMatch")
    assert error_of(post(upload, b"\x89PNG", policy=upload["fields"]["policy"][:-8] + "AAAAAAA="))[1] == (
        "SignatureDoesNotMatch"
    )
    assert keys(stack) == []  # nothing refused was stored

    assert post(upload, b"\x89PNG slide").status_code == 204  # the form as issued: stored at its key
    assert keys(stack) == [key]


def test_an_expired_policy_is_refused(stack: LocalStack) -> None:
    # Signed as the handlers sign (SigV4, the stack's credentials), but already past its expiration.
    import boto3
    from botocore.config import Config

    assert stack.urls is not None
    config = Config(signature_version="s3v4")
    s3 = boto3.client(
        "s3", endpoint_url=stack.urls.s3, region_name="us-east-1", config=config, **dynamodb.FAKE_CREDENTIALS
    )
    form = s3.generate_presigned_post(stack.bucket_name, "alice/expired.png", ExpiresIn=-1)
    response = requests.post(form["url"], data=form["fields"], files={"file": ("x.png", b"png")}, timeout=15)
    assert error_of(response) == (403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    assert "alice/expired.png" not in keys(stack)


def test_the_default_declaration_refuses_the_seeds_reference_frames_naming_the_declared_kinds(
    stack: LocalStack,
) -> None:
    # This module's stack declares no kinds (the default); test_artifacts_e2e.py's declares reference-frames.
    owner = stack.mint("alice")
    session_id = http(stack, "POST", "/sessions", owner, json={"title": "Staging"}).json()["sessionId"]
    body = PNG | {"kind": "reference-frames", "fileName": "angle-1.png"}
    refused = http(stack, "POST", f"/sessions/{session_id}/artifacts", owner, json=body)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["field"] == "kind" and "image, frames, recording, transcript" in error["message"]
