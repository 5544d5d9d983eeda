"""A producer's SigV4-signed request, as an AWS SDK makes it: botocore signs (service `execute-api`), `requests`
sends exactly the signed method, URL, headers and body."""

from __future__ import annotations

import json
from typing import Any

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def signed_post(url: str, body: Any, credentials: dict[str, str], **overrides: Any) -> requests.Response:
    """POST `body` as JSON to `url`, signed with `credentials` (`python -m local credentials`'s JSON: accessKeyId,
    secretAccessKey, region). `overrides` replace what is sent after signing: `data=` (another body), `headers=`
    (merged), to show what the gateway refuses."""
    data = json.dumps(body).encode()
    request = AWSRequest(method="POST", url=url, data=data, headers={"Content-Type": "application/json"})
    signer = Credentials(credentials["accessKeyId"], credentials["secretAccessKey"])
    SigV4Auth(signer, "execute-api", credentials["region"]).add_auth(request)
    headers = {**dict(request.headers.items()), **overrides.pop("headers", {})}
    return requests.post(url, data=overrides.pop("data", data), headers=headers, timeout=15)


def printed_credentials(state_dir: Any, role: str | None = None) -> dict[str, str]:
    """What `python -m local credentials --state-dir <dir> [--role ...]` prints, as a producer reads it."""
    import contextlib
    import io

    from local.__main__ import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["credentials", "--state-dir", str(state_dir), *(["--role", role] if role else [])]) == 0
    credentials: dict[str, str] = json.loads(out.getvalue())
    return credentials
