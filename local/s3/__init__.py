"""S3 for the local stack: the embedded moto's S3 (started by `local.dynamodb`, which serves both), with
presigned POST uploads judged by their signed policy as S3 judges them.

Entry points for the rest of `local/` are `__all__`; `post_policy` and `credentials` are this service's internals.
"""

from __future__ import annotations

from .credentials import known_secret_keys
from .post_policy import Refusal, enforce_post_policy, post_policy_refusal

__all__ = ["Refusal", "enforce_post_policy", "known_secret_keys", "post_policy_refusal"]
