"""AWS Signature Version 4 for the management API's requests, at a fraction of botocore's cost per request.

The same algorithm as botocore's `SigV4Auth` (tests/runtime/test_sigv4.py proves the Authorization header
byte-identical over generated requests, session tokens and non-ASCII bodies included, and a signer reused
across days, keys and paths equal to a fresh botocore signer each time), minus what a fan-out pays for on
every post there: building an `AWSRequest`, header maps, the signing key and the canonical request's fixed
parts. Of a post's canonical request only the date and the payload hash change from one post to the next:
the rest (the canonical path per request path, the canonical headers per host and session token, the scope
and the Authorization prefix per key and day) is built once and kept. The signing key is derived once per
(secret, day).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from botocore.utils import normalize_url_path

ALGORITHM = "AWS4-HMAC-SHA256"
_PATHS_KEPT = 65_536  # canonical paths kept (one per connection a warm environment posts to), at most
_sha256 = hashlib.sha256
_hmac_digest = hmac.digest  # one-shot OpenSSL HMAC: no HMAC object per signature


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None


def amz_date(now: float | None = None) -> str:
    """The X-Amz-Date value (UTC, second precision), as botocore writes it."""
    return _date_of_second(int(time.time() if now is None else now))


@lru_cache(maxsize=2)
def _date_of_second(second: int) -> str:
    """Formatted once per second: a fan-out signs thousands of posts within the same one."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(second))


def _hmac(key: bytes, message: str) -> bytes:
    return _hmac_digest(key, message.encode(), "sha256")


@lru_cache(maxsize=_PATHS_KEPT)
def canonical_path(path: str) -> str:
    """The canonical URI of an (already percent-encoded) request path: botocore encodes it once more."""
    return quote(normalize_url_path(path), safe="/~")


@lru_cache(maxsize=64)
def _header_parts(host: str, token: str | None) -> tuple[str, str, str]:
    """(canonical headers before the date value, after it, the signed header names) for this host and token:
    every canonical header but X-Amz-Date's value is the same for every post of an environment."""
    after = "\n"
    names = "host;x-amz-date"
    if token:
        after += f"x-amz-security-token:{' '.join(token.split())}\n"
        names += ";x-amz-security-token"
    return f"host:{' '.join(host.split())}\nx-amz-date:", after, names


class Signer:
    """Signs requests for one service in one region; the signing key is kept for the day it is valid."""

    def __init__(self, region: str, service: str = "execute-api") -> None:
        self.region, self.service = region, service
        self._scope_tail = f"/{region}/{service}/aws4_request"
        # (secret, access key, day) -> (signing key, scope, Authorization up to the signed header names)
        self._day: tuple[str, str, str, bytes, str, str] | None = None

    def _for_day(self, credentials: Credentials, day: str) -> tuple[bytes, str, str]:
        cached = self._day
        if (
            cached is not None
            and cached[2] == day
            and cached[0] == credentials.secret_key
            and cached[1] == credentials.access_key
        ):
            return cached[3], cached[4], cached[5]
        secret, access = credentials.secret_key, credentials.access_key
        key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), day), self.region), self.service), "aws4_request")
        scope = f"{day}{self._scope_tail}"
        authorization = f"{ALGORITHM} Credential={access}/{scope}, SignedHeaders="
        self._day = (secret, access, day, key, scope, authorization)
        return key, scope, authorization

    def authorization(self, method: str, host: str, path: str, body: bytes, credentials: Credentials, date: str) -> str:
        """The Authorization header's value for this request, signing Host, X-Amz-Date and (with a session
        token) X-Amz-Security-Token. `path` is the request's (already percent-encoded) path, no query."""
        before_date, after_date, signed_names = _header_parts(host, credentials.token)
        canonical_request = (
            f"{method}\n{canonical_path(path)}\n\n{before_date}{date}{after_date}\n{signed_names}\n"
            f"{_sha256(body).hexdigest()}"
        )
        key, scope, authorization = self._for_day(credentials, date[:8])
        string_to_sign = f"{ALGORITHM}\n{date}\n{scope}\n{_sha256(canonical_request.encode()).hexdigest()}"
        signature = _hmac_digest(key, string_to_sign.encode(), "sha256").hex()
        return f"{authorization}{signed_names}, Signature={signature}"

    def headers(
        self, method: str, host: str, path: str, body: bytes, credentials: Credentials, date: str
    ) -> list[tuple[str, str]]:
        """The headers that sign this request: Host, X-Amz-Date, X-Amz-Security-Token (with a session
        token) and Authorization, in the order an HTTP/1.1 request head carries them."""
        signed = [("Host", host), ("X-Amz-Date", date)]
        if credentials.token:
            signed.append(("X-Amz-Security-Token", credentials.token))
        signed.append(("Authorization", self.authorization(method, host, path, body, credentials, date)))
        return signed
