"""S3's event notification, locally: each object the embedded S3 stores (a presigned POST upload, a PutObject)
is told to the upload function as S3 tells it on AWS (infra/uploads.py): an `s3:ObjectCreated:*` record, sent
as an asynchronous invocation through the local Lambda service's Invoke API (local/lambda_service/invoke_api.py,
which queues and retries it as Lambda does). Sent after S3 answered, from a thread of its own: the uploader
never waits on it, and S3 itself notifies after the fact and at least once.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus, unquote

logger = logging.getLogger("local.s3")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
NOTIFY_ENVIRONMENT = "LOCAL_S3_NOTIFY"  # JSON {"bucket", "invokeUrl"}: set by the stack on the moto process


@dataclass(frozen=True)
class Stored:
    bucket: str
    key: str
    size: int
    etag: str  # a single-part object's: the MD5 of its bytes, hex


def event_of(stored: Stored, event_name: str, now: datetime | None = None) -> dict[str, Any]:
    """The notification S3 sends for `stored` (one record, S3's event message structure 2.1)."""
    at = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": at,
                "eventName": event_name,
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": stored.bucket, "arn": f"arn:aws:s3:::{stored.bucket}"},
                    # S3 sends the key URL-encoded (a space as `+`); the function decodes it as on AWS.
                    "object": {
                        "key": quote_plus(stored.key, safe="/"),
                        "size": stored.size,
                        "eTag": stored.etag,
                        "sequencer": uuid.uuid4().hex[:18].upper(),
                    },
                },
            }
        ]
    }


NOTIFY_ATTEMPTS = 5  # S3 retries a notification it could not deliver; the upload function ignores a repeat


def _invoke_async(invoke_url: str, event: Mapping[str, Any], *, pause: Callable[[float], None] = time.sleep) -> None:
    body = json.dumps(event).encode()
    for attempt in range(1, NOTIFY_ATTEMPTS + 1):
        request = urllib.request.Request(  # noqa: S310 - the local stack's own http:// Invoke API
            invoke_url, data=body, method="POST", headers={"X-Amz-Invocation-Type": "Event"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                answer.read()
            return
        except OSError:
            if attempt == NOTIFY_ATTEMPTS:
                logger.exception("could not tell the upload function of %s", event["Records"][0]["s3"]["object"]["key"])
                return
            pause(min(2.0**attempt, 10.0))  # a busy local Lambda service: again, as S3 does, a little later


def _stored_by(environ: Mapping[str, Any], body: bytes, bucket: str) -> tuple[Stored, str] | None:
    """The object a request stores, with S3's event name (a POST form upload or a plain PutObject), else None."""
    from werkzeug.formparser import parse_form_data

    method, content_type = environ.get("REQUEST_METHOD"), str(environ.get("CONTENT_TYPE", ""))
    path = unquote(str(environ.get("PATH_INFO", "")))
    if method == "POST" and content_type.startswith("multipart/form-data"):
        _, form, files = parse_form_data({**environ, "wsgi.input": io.BytesIO(body)})
        upload = files.get("file")
        key = form.get("key")
        if upload is None or not key:
            return None
        content = upload.read()
        return Stored(bucket, key, len(content), hashlib.md5(content).hexdigest()), "ObjectCreated:Post"  # noqa: S324
    query = str(environ.get("QUERY_STRING", ""))
    copy = "HTTP_X_AMZ_COPY_SOURCE" in environ
    if method == "PUT" and not copy and "uploadId" not in query and "tagging" not in query and "acl" not in query:
        key = path.strip("/").split("/", 1)[1] if path.strip("/").startswith(f"{bucket}/") else ""
        if key:
            return Stored(bucket, key, len(body), hashlib.md5(body).hexdigest()), "ObjectCreated:Put"  # noqa: S324
    return None


def notify_stored_objects(app: WsgiApp, bucket: str, invoke_url: str, bucket_of: Callable[[Any], str]) -> WsgiApp:
    """`app` (the embedded S3), telling `invoke_url` (an Invoke API URL, asynchronously) of each object it stores
    in `bucket` with a 2xx answer."""

    def notifying(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in ("POST", "PUT") or bucket_of(environ) != bucket:
            return app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        status: list[str] = []

        def recording(code: str, headers: Any, *rest: Any) -> Any:
            status.append(code)
            return start_response(code, headers, *rest)

        answer = list(app(environ, recording))
        stored = _stored_by(environ, body, bucket) if status and status[0].startswith("2") else None
        if stored is not None:
            event = event_of(*stored)
            threading.Thread(target=_invoke_async, args=(invoke_url, event), daemon=True).start()
        return answer

    return notifying


def from_environment(app: WsgiApp, environ: Mapping[str, str], bucket_of: Callable[[Any], str]) -> WsgiApp:
    """`app` notifying as NOTIFY_ENVIRONMENT says (unset: `app` as it is)."""
    raw = environ.get(NOTIFY_ENVIRONMENT)
    if not raw:
        return app
    wanted = json.loads(raw)
    return notify_stored_objects(app, wanted["bucket"], wanted["invokeUrl"], bucket_of)
