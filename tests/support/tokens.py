"""Forged and unacceptable bearer tokens for a given issuer (LocalIssuer), by name.

Each is what an attacker (or a confused client) could present: the verifier must refuse all of them,
whichever API they arrive on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _segment(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).rstrip(b"=").decode()


def _claims(issuer: Any, user: str) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": user,
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "token_use": "id",
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
    }


def bad_tokens(issuer: Any, user: str) -> dict[str, str]:
    """name -> a token claiming to be `user` that must be refused."""
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = issuer._private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs_header = _segment({"alg": "HS256", "kid": issuer.kid, "typ": "JWT"})
    hs_body = _segment(_claims(issuer, user))
    hs_signature = hmac.new(public_pem, f"{hs_header}.{hs_body}".encode(), hashlib.sha256).digest()
    return {
        "expired": issuer.mint(user, ttl_seconds=-3600),
        "wrong issuer": issuer.mint(user, iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Attacker"),
        "wrong audience": issuer.mint(user, aud="someone-elses-client"),
        "access token of another client": issuer.mint(user, token_use="access", client_id="someone-elses-client"),
        "not an id or access token": issuer.mint(user, token_use="refresh"),
        "alg none": f"{_segment({'alg': 'none', 'kid': issuer.kid, 'typ': 'JWT'})}.{_segment(_claims(issuer, user))}.",
        "other key, same kid": jwt.encode(
            _claims(issuer, user), other_key, algorithm="RS256", headers={"kid": issuer.kid}
        ),
        "HS256 keyed with the public key": f"{hs_header}.{hs_body}."
        + base64.urlsafe_b64encode(hs_signature).rstrip(b"=").decode(),
        "not yet valid": issuer.mint(user, iat=int(time.time()) + 3600, nbf=int(time.time()) + 3600),
        "garbage": "not.a.jwt",
    }
