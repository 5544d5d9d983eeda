"""Secrets Manager for the local stack: the cursor secret, kept per state directory and served by the embedded
moto (the same server as DynamoDB and S3).

Entry points for the rest of `local/` are `__all__`; `cursor_key` is this service's internal module.
"""

from __future__ import annotations

from .cursor_key import SECRET_NAME, cursor_secret, ensure_cursor_secret

__all__ = ["SECRET_NAME", "cursor_secret", "ensure_cursor_secret"]
