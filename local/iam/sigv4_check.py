"""API Gateway's IAM authorizer on one request: is it SigV4-signed by a known access key, over what was received?

botocore computes the signature (its `SigV4Auth`: canonical request, string to sign, signing key) over the
request as the gateway received it, restricted to the headers the signer named (`SignedHeaders`), at the time
the signer stated (`X-Amz-Date`); the result is compared with the one sent in constant time. Nothing is waived
locally: an unsigned request, an unknown key, another region or service, a stale date, a body that is not the
one signed (`X-Amz-Content-SHA256` included) or any other mismatch is refused with API Gateway's 403 message.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from .credentials import LocalIdentity

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=5)  # API Gateway refuses a signature dated further from its clock
FORBIDDEN = "Forbidden"  # an IAM route called without a signature
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access "
    "Key and signing method. Consult the service documentation for details."
)
INVALID_KEY = "The security token included in the request is invalid."
_AUTHORIZATION = re.compile(
    rf"^{ALGORITHM}\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Refusal:
    message: str  # the body is {"message": <this>}, status 403


class _ReceivedRequestSigner(SigV4Auth):
    """botocore's signer over exactly the headers the request says it signed."""

    def __init__(self, credentials: Credentials, region: str, signed: list[str]) -> None:
        super().__init__(credentials, SERVICE, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        chosen = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                chosen[name] = value
        return chosen


def verify_sigv4(
    *,
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    region: str,
    identities: Callable[[str], LocalIdentity | None],
    now: datetime | None = None,
) -> LocalIdentity | Refusal:
    """The identity that signed the request, or why API Gateway would refuse it."""
    received = HTTPHeaders()
    for name, value in headers:
        received[name.lower()] = value
    authorization = received.get("authorization")
    if not authorization:
        return Refusal(FORBIDDEN)
    parsed = _AUTHORIZATION.match(authorization.strip())
    if parsed is None:
        return Refusal(f"Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' ({ALGORITHM}).")
    access_key, _, scope = parsed["credential"].partition("/")
    scope_parts = scope.split("/")
    if len(scope_parts) != 4 or scope_parts[3] != "aws4_request":
        return Refusal("Credential should be scoped to a valid region, service and aws4_request.")
    day, scope_region, scope_service, _ = scope_parts
    if scope_service != SERVICE:
        return Refusal(f"Credential should be scoped to correct service: '{SERVICE}'.")
    if scope_region != region:
        return Refusal(f"Credential should be scoped to a valid region, not '{scope_region}'.")
    identity = identities(access_key)
    if identity is None:
        return Refusal(INVALID_KEY)
    amz_date = received.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        return Refusal("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    clock = now or datetime.now(UTC)
    if abs(clock - signed_at) > MAX_SKEW:
        return Refusal(
            f"Signature expired: {amz_date} is now earlier than "
            f"{(clock - MAX_SKEW).strftime(_AMZ_DATE)} ({clock.strftime(_AMZ_DATE)} - 5 min.)"
        )
    signed = parsed["signed"].lower().split(";")
    declared_hash = received.get("x-amz-content-sha256")
    if day != amz_date[:8] or "host" not in signed or (
        declared_hash is not None and declared_hash != hashlib.sha256(body).hexdigest()
    ):
        return Refusal(SIGNATURE_MISMATCH)
    request = AWSRequest(method=method.upper(), url=url, data=body)
    request.headers = received
    request.context["timestamp"] = amz_date
    signer = _ReceivedRequestSigner(Credentials(identity.access_key_id, identity.secret_access_key), region, signed)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if not hmac.compare_digest(expected, parsed["signature"]):
        return Refusal(SIGNATURE_MISMATCH)
    return identity
