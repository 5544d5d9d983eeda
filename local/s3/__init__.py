"""S3 for the local stack: the embedded moto's S3 (started by `local.dynamodb`, which serves both), with
presigned POST uploads judged by their signed policy as S3 judges them, and each object stored told to the
upload function as S3's event notification tells it.

Entry points for the rest of `local/` are `__all__`; `post_policy` and `credentials` are this service's internals.
"""

from __future__ import annotations

from .credentials import known_secret_keys
from .notifications import NOTIFY_ENVIRONMENT, Stored, event_of
from .notifications import from_environment as notify_from_environment
from .post_policy import Refusal, bucket_of, enforce_post_policy, post_policy_refusal

__all__ = [
    "NOTIFY_ENVIRONMENT",
    "Refusal",
    "Stored",
    "bucket_of",
    "enforce_post_policy",
    "event_of",
    "known_secret_keys",
    "notify_from_environment",
    "post_policy_refusal",
]
