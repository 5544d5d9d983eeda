"""The credentials the embedded S3 knows, to check a presigned POST's signature as S3 checks it against the
signer's secret key: the local stack's fixed ones, and the developer's own when the handlers sign with those
(a DynamoDB that needs real credentials, local/dynamodb/backend.py)."""

from __future__ import annotations

import boto3

from local.dynamodb import FAKE_CREDENTIALS


def known_secret_keys() -> dict[str, str]:
    """Access key ID -> secret key. Resolved on each call: temporary credentials change while serving."""
    keys = {FAKE_CREDENTIALS["aws_access_key_id"]: FAKE_CREDENTIALS["aws_secret_access_key"]}
    resolved = boto3.session.Session().get_credentials()
    if resolved is not None:
        frozen = resolved.get_frozen_credentials()
        keys[frozen.access_key] = frozen.secret_key
    return keys
