"""A local JWT issuer standing in for Cognito.

It signs Cognito-shaped tokens with an RS256 key and publishes the public half as a JWKS, so the local
stack verifies tokens with exactly the code (`session_runtime.auth.TokenVerifier`) the deployed handlers
use; nothing is bypassed locally. The key lives in a 0600 PEM file under the state directory, so
`python -m local token <userId>` in another terminal signs with the key the running server publishes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from local.state_files import write_once

JWKS_PATH = "/.well-known/jwks.json"  # served by the local HTTP server under the issuer URL
jwks_path = JWKS_PATH
DEFAULT_AUDIENCE = "local-client"
KEY_FILE_NAME = "local-issuer-key.pem"
# The issuer URL and audience the stack serving from a state directory accepts (its URL holds the stack's
# HTTP port), so `python -m local token` mints for that stack whatever port it was started on.
SERVED_FILE_NAME = "local-issuer.json"
ALGORITHM = "RS256"


def _thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint: a kid that is unique per key and the same whenever the key is reloaded."""
    numbers = public_key.public_numbers()

    def b64(value: int) -> str:
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    canonical = json.dumps({"e": b64(numbers.e), "kty": "RSA", "n": b64(numbers.n)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


class LocalIssuer:
    """Mints Cognito-like RS256 tokens for `issuer` / `audience` and publishes the matching JWKS."""

    def __init__(
        self,
        issuer: str,
        audience: str = DEFAULT_AUDIENCE,
        *,
        private_key: rsa.RSAPrivateKey | None = None,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("LocalIssuer needs an issuer and an audience")
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self._private_key = private_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = _thumbprint(self._private_key.public_key())

    @property
    def jwks_url(self) -> str:
        return self.issuer + JWKS_PATH

    def jwks(self) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self._private_key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "alg": ALGORITHM, "use": "sig"})
        return {"keys": [jwk]}

    def mint(
        self,
        user_id: str,
        *,
        ttl_seconds: int = 3600,
        token_use: str = "id",
        extra_claims: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> str:
        """A signed token for `user_id`, shaped like Cognito's ID (default) or access token.

        `extra_claims` adds claims (e.g. {"cognito:groups": [...]}); keyword `overrides` replace standard
        ones (`iat=..., exp=..., aud=...`), and an override of None removes the claim (tests use this
        to mint tokens the verifier must refuse).
        """
        now = int(time.time())
        claims: dict[str, Any] = {
            "sub": user_id,
            "iss": self.issuer,
            "token_use": token_use,
            "auth_time": now,
            "iat": now,
            "exp": now + ttl_seconds,
            "jti": str(uuid.uuid4()),
        }
        if token_use == "access":
            # Cognito access tokens name the app client in `client_id` and carry no `aud`.
            claims.update({"client_id": self.audience, "username": user_id, "scope": "aws.cognito.signin.user.admin"})
        else:
            claims.update({"aud": self.audience, "cognito:username": user_id})
        claims.update(extra_claims or {})
        for name, value in overrides.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return jwt.encode(claims, self._private_key, algorithm=ALGORITHM, headers={"kid": self.kid})

    # -- persistence -----------------------------------------------------------------------------------

    def private_key_pem(self) -> bytes:
        # Unencrypted: a throwaway development key, protected by file mode 0600 in a 0700 directory.
        return self._private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @classmethod
    def load_or_create(cls, state_dir: Path, issuer: str, audience: str = DEFAULT_AUDIENCE) -> LocalIssuer:
        """The issuer whose key is stored in `state_dir`, creating (and storing) a key on first use.

        Safe when `serve` and `token` start at once (local/state_files.py): the loser of the race loads the
        winner's key.
        """
        path = Path(state_dir) / KEY_FILE_NAME
        pem = path.read_bytes() if path.exists() else write_once(path, cls(issuer, audience).private_key_pem())
        return cls(issuer, audience, private_key=_load_private_key(pem, path))


def record_served(state_dir: Path, issuer: LocalIssuer) -> None:
    """Write down (atomically) which issuer the stack now serving from `state_dir` accepts."""
    path = Path(state_dir) / SERVED_FILE_NAME
    tmp = path.with_name(f".{SERVED_FILE_NAME}.{os.getpid()}.{uuid.uuid4().hex}")
    tmp.write_text(json.dumps({"issuer": issuer.issuer, "audience": issuer.audience}))
    os.replace(tmp, path)


def served_issuer(state_dir: Path) -> tuple[str, str] | None:
    """(issuer URL, audience) the stack last started with `state_dir` accepts; None if none was."""
    try:
        served = json.loads((Path(state_dir) / SERVED_FILE_NAME).read_text())
        return str(served["issuer"]), str(served["audience"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _load_private_key(pem: bytes, path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise ValueError(f"{path} does not hold an RSA private key of at least 2048 bits")
    return key
