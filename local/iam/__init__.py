"""AWS IAM for the local stack: the credentials producers sign with (`python -m local credentials`) and the SigV4
check the local HTTP gateway runs on the IAM route, as API Gateway's IAM authorizer does."""

from __future__ import annotations

from .credentials import ACCOUNT_ID, PUBLISHER_ROLE, CredentialStore, LocalIdentity
from .sigv4_check import Refusal, verify_sigv4

__all__ = ["ACCOUNT_ID", "PUBLISHER_ROLE", "CredentialStore", "LocalIdentity", "Refusal", "verify_sigv4"]
