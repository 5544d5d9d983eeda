"""S3's judgement of a browser-based POST upload (a presigned POST), as S3 documents and answers it.

moto stores whatever a POST form sends; S3 refuses what the form's signed policy does not allow. So the
embedded moto runs every multipart POST through `enforce_post_policy` first, and local runs show the upload
bounds the handlers sign (size range, Content-Type, the exact key): checks in S3's order (the SigV4 signature of
the base64 policy under the credential's derived key, the expiration, each condition, fields no condition names),
refusals with S3's status and error XML (403 AccessDenied "Invalid according to Policy: ...", 400 EntityTooLarge).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

# Form fields no condition has to name (S3: the policy and its signature, the file, x-ignore-* ones).
_UNCOVERED = ("policy", "x-amz-signature", "file")


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    message: str
    extra: tuple[tuple[str, str], ...] = ()  # further elements of S3's error XML (ProposedSize, MaxSizeAllowed)

    def xml(self) -> bytes:
        elements = (("Code", self.code), ("Message", self.message), *self.extra, ("RequestId", uuid.uuid4().hex))
        body = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in elements)
        return f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>{body}</Error>'.encode()


def _denied(why: str) -> Refusal:
    return Refusal(403, "AccessDenied", f"Invalid according to Policy: {why}")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def _signature(secret_key: str, credential_scope: list[str], policy: str) -> str:
    date, region, service, terminator = credential_scope
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret_key}".encode(), date), region), service), terminator)
    return hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()


def post_policy_refusal(
    bucket: str, form: Mapping[str, str], size: int, secret_keys: Mapping[str, str], now: datetime | None = None
) -> Refusal | None:
    """Why S3 refuses this POST upload of `size` bytes to `bucket` (None: it stores it). `form`: the fields
    but the file; `secret_keys`: access key ID -> secret key of the credentials S3 knows."""
    fields = {name.lower(): value for name, value in form.items()}
    if "policy" not in fields:
        return Refusal(403, "AccessDenied", "Access Denied")  # a private bucket takes no unsigned upload
    credential = fields.get("x-amz-credential", "").split("/")
    if len(credential) != 5 or fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
        return Refusal(400, "InvalidArgument", "POST requires x-amz-algorithm AWS4-HMAC-SHA256 and x-amz-credential")
    secret_key = secret_keys.get(credential[0])
    if secret_key is None:
        return Refusal(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
    expected = _signature(secret_key, credential[1:], fields["policy"])
    if not hmac.compare_digest(expected, fields.get("x-amz-signature", "")):
        return Refusal(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
        )
    try:
        policy = json.loads(base64.b64decode(fields["policy"], validate=True))
        expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        conditions = list(policy["conditions"])
    except (ValueError, KeyError, TypeError):
        return Refusal(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.")
    if (now or datetime.now(UTC)) >= expiration:
        return _denied("Policy expired.")
    return _condition_refusal(conditions, fields | {"bucket": bucket}, size)


def _condition_refusal(conditions: Iterable[Any], values: Mapping[str, str], size: int) -> Refusal | None:
    covered = set(_UNCOVERED) | {"bucket"}
    for condition in conditions:
        if isinstance(condition, dict) and len(condition) == 1:
            ((name, wanted),) = condition.items()
            operator = "eq"
        elif isinstance(condition, list) and len(condition) == 3 and condition[0] == "content-length-range":
            low, high = int(condition[1]), int(condition[2])
            if size > high:
                sizes = (("ProposedSize", str(size)), ("MaxSizeAllowed", str(high)))
                return Refusal(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size", sizes)
            if size < low:
                sizes = (("ProposedSize", str(size)), ("MinSizeAllowed", str(low)))
                too_small = "Your proposed upload is smaller than the minimum allowed size"
                return Refusal(400, "EntityTooSmall", too_small, sizes)
            continue
        elif isinstance(condition, list) and len(condition) == 3 and condition[0] in ("eq", "starts-with"):
            operator, name, wanted = condition
        else:
            return Refusal(400, "InvalidPolicyDocument", f"Invalid Policy: Invalid Condition: {json.dumps(condition)}")
        field = str(name).removeprefix("$").lower()
        covered.add(field)
        actual = values.get(field)
        holds = actual == wanted if operator == "eq" else actual is not None and actual.startswith(str(wanted))
        if not holds:
            return _denied(f'Policy Condition failed: ["{operator}", "${name.removeprefix("$")}", "{wanted}"]')
    extra = sorted(name for name in values if name not in covered and not name.startswith("x-ignore-"))
    if extra:
        return _denied(f"Extra input fields: {', '.join(extra)}")
    return None


def bucket_of(environ: Mapping[str, Any]) -> str:
    """Path-style `/<bucket>` (what boto3 presigns for an endpoint URL), else the virtual host's first label."""
    path = str(environ.get("PATH_INFO", "")).strip("/")
    if path:
        return path.split("/", 1)[0]
    return urlsplit(f"//{environ.get('HTTP_HOST', '')}").hostname.split(".", 1)[0]  # type: ignore[union-attr]


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def enforce_post_policy(app: WsgiApp, secret_keys: Callable[[], Mapping[str, str]]) -> WsgiApp:
    """`app` (moto's), with every multipart/form-data POST (S3's POST Object; no other AWS call sends one)
    judged first: a refused upload never reaches moto. `secret_keys` is asked on each upload."""
    from werkzeug.formparser import parse_form_data

    def judged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        content_type = str(environ.get("CONTENT_TYPE", ""))
        if environ.get("REQUEST_METHOD") != "POST" or not content_type.startswith("multipart/form-data"):
            return app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        _, form, files = parse_form_data({**environ, "wsgi.input": io.BytesIO(body)})
        upload = files.get("file")
        size = len(upload.read()) if upload is not None else 0
        refusal = post_policy_refusal(bucket_of(environ), form.to_dict(), size, secret_keys())
        if refusal is None:
            environ["wsgi.input"] = io.BytesIO(body)  # moto reads the form again
            return app(environ, start_response)
        reason = {400: "Bad Request", 403: "Forbidden"}[refusal.status]
        start_response(f"{refusal.status} {reason}", [("Content-Type", "application/xml")])
        return [refusal.xml()]

    return judged
