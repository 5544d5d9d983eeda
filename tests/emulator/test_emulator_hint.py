"""The emulator's ready banner tells how to point the AWS CLI and boto3 at it: the line works as pasted
into a shell (a boto3 client made there has the emulator's endpoint, region and credentials)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from infra.emulate import REGION, aws_shell_hint

ENDPOINT = "http://127.0.0.1:4566"
# What a boto3 program started in that shell sees (no request is made: nothing listens there).
PROBE = """
import json, boto3
client = boto3.client("cognito-idp")
credentials = client._request_signer._credentials
print(json.dumps([client.meta.endpoint_url, client.meta.region_name, credentials.access_key]))
"""


def test_the_hint_works_as_pasted_with_boto3() -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    script = f"{aws_shell_hint(ENDPOINT)}\n{sys.executable} -c '{PROBE}'\n"
    result = subprocess.run(["bash", "-c", script], env=clean, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [ENDPOINT, REGION, "test"]
