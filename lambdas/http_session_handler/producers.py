"""Producers inside the AWS account: the callers of the IAM route (`auth_kind="iam"` in session_schema.routes).

API Gateway's IAM authorizer (deployed) or the local gateway (local/apigw/sigv4_check.py) has verified the SigV4
signature and put the signer in `requestContext.authorizer.iam`. That block is read on the IAM route only: on
any other route nothing trustworthy puts it there (identity.py). A valid signature is not a grant: any principal
of the account whose policy allows `execute-api:Invoke` (an administrator's `*`) passes API Gateway, so the signer
must also be one of the roles the deployment named (PUBLISHER_ROLE_ARNS), else 403 FORBIDDEN.

A role's session signs as `arn:aws:sts::<account>:assumed-role/<name>/<session>`, which drops the role's path,
so a role is matched by partition, account and name; any other principal (an IAM user) by its exact ARN.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from session_schema.errors import Forbidden, Unauthorized


@dataclass(frozen=True)
class Producer:
    principal_arn: str  # as signed: an assumed role's session ARN, or a user's ARN
    account_id: str


def producer_of(event: dict[str, Any]) -> Producer:
    """The signer API Gateway verified; 401 when the event carries none (the route's authorizer is missing)."""
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {}
    arn, account = iam.get("userArn"), iam.get("accountId")
    if not isinstance(arn, str) or not arn or not isinstance(account, str):
        raise Unauthorized("sign this request with AWS SigV4")
    return Producer(arn, account)


def _role_identity(arn: str) -> tuple[str, str, str] | None:
    """(partition, account, role name) of a role ARN or of a role session's ARN; None for any other ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    partition, service, account, resource = parts[1], parts[2], parts[4], parts[5]
    if service == "iam" and resource.startswith("role/"):
        return partition, account, resource.rsplit("/", 1)[-1]
    if service == "sts" and resource.startswith("assumed-role/"):
        segments = resource.split("/")
        return (partition, account, segments[1]) if len(segments) == 3 else None
    return None


def is_granted(principal_arn: str, granted: tuple[str, ...]) -> bool:
    signer = _role_identity(principal_arn)
    return any(
        principal_arn == arn or (signer is not None and signer == _role_identity(arn)) for arn in granted
    )


def require_granted(producer: Producer, granted: tuple[str, ...]) -> Producer:
    if not is_granted(producer.principal_arn, granted):
        raise Forbidden("this AWS principal is not granted publishing to sessions")
    return producer
