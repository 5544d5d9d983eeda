"""Cognito for the local stack: an RS256 issuer whose JWKS the HTTP gateway serves, and the tokens it signs.

Entry points for the rest of `local/` are `__all__`; `issuer` is this service's internal module.
"""

from __future__ import annotations

from .issuer import DEFAULT_AUDIENCE, JWKS_PATH, KEY_FILE_NAME, LocalIssuer, record_served, served_issuer

__all__ = ["DEFAULT_AUDIENCE", "JWKS_PATH", "KEY_FILE_NAME", "LocalIssuer", "record_served", "served_issuer"]
