"""Credentials a local producer signs with, each standing for an IAM role of the local account.

`python -m local credentials [--role NAME]` prints an access key, its secret, the region and the role ARN they
stand for; the local HTTP gateway looks the access key of a signed request up here and verifies the signature
with its secret (local/iam/sigv4_check.py). They live in a 0600 JSON file under the state directory, created on
first use and then stable, so a producer configured once keeps working across restarts of the stack.

The stack grants PUBLISHER_ROLE (its ARN is the local PUBLISHER_ROLE_ARNS); credentials for any other role name
sign valid requests of a principal that is not granted, which the handler refuses with 403 FORBIDDEN, as a
deployed stack refuses a role of the account that the deployment did not name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import string
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ACCOUNT_ID = "123456789012"  # the account the local API Gateway events name (local/apigw/http_api_events.py)
PUBLISHER_ROLE = "local-publisher"
ROLE_NAME = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,64}$")
FILE_NAME = "local-credentials.json"
SESSION_NAME = "local"  # the session part of an assumed role's ARN
_KEY_ALPHABET = string.ascii_uppercase + "234567"


@dataclass(frozen=True)
class LocalIdentity:
    access_key_id: str
    secret_access_key: str
    role_name: str

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{ACCOUNT_ID}:role/{self.role_name}"

    @property
    def session_arn(self) -> str:
        """What the signer is to AWS: a session of the role (the `userArn` API Gateway reports)."""
        return f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{self.role_name}/{SESSION_NAME}"

    @property
    def role_id(self) -> str:
        """A stable unique ID of the role (AWS's start with AROA)."""
        digest = hashlib.sha256(self.role_name.encode()).digest()
        return "AROA" + "".join(_KEY_ALPHABET[b % 32] for b in digest[:17])

    def authorizer_iam(self) -> dict[str, Any]:
        """`requestContext.authorizer.iam` of a request this identity signed, as API Gateway fills it."""
        caller = f"{self.role_id}:{SESSION_NAME}"
        return {
            "accessKey": self.access_key_id,
            "accountId": ACCOUNT_ID,
            "callerId": caller,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": self.session_arn,
            "userId": caller,
        }


class CredentialStore:
    """The identities of one state directory: created on demand, read back by the gateway on every lookup (a
    `python -m local credentials --role x` run while the stack serves is seen at once)."""

    _lock = threading.Lock()

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.path = Path(state_dir) / FILE_NAME

    def for_role(self, role_name: str = PUBLISHER_ROLE) -> LocalIdentity:
        if not ROLE_NAME.match(role_name):
            raise ValueError(f"{role_name!r} is not an IAM role name ({ROLE_NAME.pattern})")
        with self._lock:
            identities = self._read()
            found = next((i for i in identities if i.role_name == role_name), None)
            if found is None:
                found = LocalIdentity(
                    "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16)),
                    secrets.token_urlsafe(30),
                    role_name,
                )
                self._write([*identities, found])
            return found

    def by_access_key(self, access_key_id: str) -> LocalIdentity | None:
        return next((i for i in self._read() if secrets.compare_digest(i.access_key_id, access_key_id)), None)

    def _read(self) -> list[LocalIdentity]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return []
        return [LocalIdentity(**item) for item in raw.get("identities", [])]

    def _write(self, identities: list[LocalIdentity]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump({"identities": [asdict(i) for i in identities]}, out, indent=2)
        os.replace(temporary, self.path)  # a reader sees the old file or the new one, never half of one
