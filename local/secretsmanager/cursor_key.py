"""The cursor secret of the local stack: generated once per state directory, served by the embedded moto.

The handlers read it as deployed (the CURSOR_KEY_SECRET setting names a Secrets Manager secret, boto3 reaches it
at AWS_ENDPOINT_URL_SECRETS_MANAGER), so the same code seals cursors locally. Kept in the state directory, it
outlives a restart: the cursors a client holds stay valid, as on a deploy until its secret is replaced.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from botocore.exceptions import ClientError

from local.dynamodb import DynamoDbAccess, client
from local.state_files import write_once

SECRET_NAME = "live-sessions-cursor-key-local"
KEY_FILE_NAME = "cursor-key"


def cursor_secret(state_dir: Path) -> str:
    """The state directory's cursor secret, created on first use (64 URL-safe characters, as the stack's)."""
    return write_once(Path(state_dir) / KEY_FILE_NAME, secrets.token_urlsafe(48).encode()).decode()


def ensure_cursor_secret(endpoint_url: str, value: str, region: str) -> str:
    """Put `value` into the embedded Secrets Manager as SECRET_NAME (created, or its value replaced). Its name."""
    manager = client("secretsmanager", endpoint_url, DynamoDbAccess(user_credentials=False, region=region))
    try:
        manager.create_secret(Name=SECRET_NAME, SecretString=value)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceExistsException":
            raise
        manager.put_secret_value(SecretId=SECRET_NAME, SecretString=value)
    return SECRET_NAME
