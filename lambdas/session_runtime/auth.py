"""Bearer-token verification shared by both handlers.

One verifier, one set of rules, so the HTTP API and the WebSocket `$connect` cannot disagree about which
tokens are valid. No API Gateway authorizer runs in front of either (infra/http_api.py): this verifier
is the only check a token gets, deployed and locally. The rules (Cognito-shaped):

- the token is a compact JWS signed with RS256 by a key the issuer publishes in its JWKS; the algorithm is
  pinned by us, never taken from the token (no `none`, no HS256 made with the public key as secret);
- keys come only from the configured JWKS URL, never from the token (`jku`, `x5u`, `jwk`, `x5c` ignored);
- `exp` is required, `nbf`/`iat` must not be in the future (small leeway for clock skew), all three are
  JSON integers when present (not `"1700000000"`, `true` or `1.5`), `iss` must match;
- an ID token (`token_use=id`) must carry `aud == audience`, an access token (`token_use=access`)
  `client_id == audience`; a token without `token_use` must carry `aud == audience`;
- `sub` becomes part of DynamoDB keys, so it is restricted to a safe alphabet (no `#`).

Every refusal is `Unauthorized` with a short message that says what was wrong with the token, never why
internally (no library messages, no key material, no URLs).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from session_schema.errors import Unauthorized
from session_schema.models import USER_ID_PATTERN
from session_schema.settings import Settings

# PyJWT and cryptography are imported on the first token, not with this module: an anonymous listener's
# `$connect` (the most common cold start) verifies none (their import time: docs/figures.md, coldstart).
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"  # the only algorithm accepted: Cognito signs with RS256
LEEWAY_SECONDS = 30  # clock skew tolerated on exp / nbf / iat
JWKS_TTL_SECONDS = 3600.0  # a cached key set is refreshed after this
JWKS_MIN_REFETCH_SECONDS = 30.0  # at most one fetch per URL in this window, whatever tokens arrive
JWKS_FETCH_TIMEOUT_SECONDS = 3.0
JWKS_MAX_BYTES = 1 << 20  # a key set is a few KB; refuse to buffer an unbounded response
MAX_TOKEN_LENGTH = 16 * 1024  # Cognito tokens are 1-4 KB; bounds the work an attacker can ask for
MIN_RSA_KEY_BITS = 2048

SUBJECT_PATTERN = re.compile(USER_ID_PATTERN)  # a `sub` is a user ID; used with fullmatch (no `$` newline gap)
TOKEN_USES = frozenset({"id", "access"})
TIME_CLAIMS = ("exp", "iat", "nbf")  # NumericDates; accepted only as JSON integers
# Header parameters that would change how the token is interpreted; Cognito never sets them.
_REFUSED_HEADER_PARAMETERS = frozenset({"crit", "b64"})

JwksFetcher = Callable[[str], Mapping[str, Any]]


class Identity(BaseModel):
    """Who a verified token speaks for."""

    model_config = ConfigDict(frozen=True)

    user_id: str  # the token's `sub`
    token_use: str | None  # "id", "access", or None when the issuer does not say
    claims: dict[str, Any]


def fetch_jwks_over_http(url: str) -> Mapping[str, Any]:
    """GET a JWKS document. Only http(s): urllib would otherwise happily read `file:` URLs."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"JWKS URL scheme {scheme!r} is not http(s)")
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "live-sessions-auth"})
    with urllib.request.urlopen(request, timeout=JWKS_FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 (scheme checked)
        body = response.read(JWKS_MAX_BYTES + 1)
    if len(body) > JWKS_MAX_BYTES:
        raise ValueError("JWKS document too large")
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError("JWKS document is not a JSON object")
    return document


def _signing_keys(document: Mapping[str, Any]) -> dict[str, RSAPublicKey]:
    """The usable RS256 verification keys of a JWKS document, by kid; anything else is skipped."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    keys = document.get("keys")
    if not isinstance(keys, list):
        raise ValueError("JWKS document has no 'keys' list")
    usable: dict[str, RSAPublicKey] = {}
    for jwk in keys:
        if not isinstance(jwk, dict):
            continue
        kid = jwk.get("kid")
        if (
            not isinstance(kid, str)
            or jwk.get("kty") != "RSA"
            or jwk.get("use", "sig") != "sig"
            or jwk.get("alg", ALGORITHM) != ALGORITHM
        ):
            continue
        try:
            key = jwt.PyJWK(jwk, algorithm=ALGORITHM).key
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            logger.warning("skipping a malformed key in the JWKS", extra={"kid": kid[:64]})
            continue
        # A JWK carrying private parameters yields a private key: whoever published it leaked it,
        # so nothing it "signed" proves anything. Small keys are refused for the same reason.
        if not isinstance(key, RSAPublicKey) or key.key_size < MIN_RSA_KEY_BITS:
            logger.warning("skipping an unusable key in the JWKS", extra={"kid": kid[:64]})
            continue
        usable[kid] = key
    return usable


@dataclass
class _CachedKeys:
    keys: dict[str, RSAPublicKey] = field(default_factory=dict)
    fetched_at: float | None = None  # monotonic time of the last successful fetch
    attempted_at: float | None = None  # monotonic time of the last fetch, successful or not


# Per process (one Lambda execution environment), keyed by JWKS URL, shared by every verifier: a warm
# Lambda verifies without any network call; a cold one fetches once.
_JWKS_CACHE: dict[str, _CachedKeys] = {}
_JWKS_LOCK = threading.Lock()  # the local stack verifies from several threads


def clear_jwks_cache() -> None:
    """Forget every cached key set (tests; a long-running process never needs it)."""
    with _JWKS_LOCK:
        _JWKS_CACHE.clear()


class TokenVerifier:
    """Verifies bearer JWTs from one issuer for one audience (app client)."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        jwks_url: str,
        *,
        fetch_jwks: JwksFetcher = fetch_jwks_over_http,
        monotonic: Callable[[], float] = time.monotonic,
        leeway_seconds: int = LEEWAY_SECONDS,
    ) -> None:
        # An empty issuer or audience would be a deployment bug; fail at construction, not per request.
        if not issuer or not audience or not jwks_url:
            raise ValueError("TokenVerifier needs an issuer, an audience and a JWKS URL")
        if not 0 <= leeway_seconds <= 60:
            raise ValueError("leeway_seconds must be between 0 and 60")
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self._fetch_jwks = fetch_jwks
        self._monotonic = monotonic
        self._leeway = leeway_seconds

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> TokenVerifier:
        return cls(settings.jwt_issuer, settings.jwt_audience, settings.resolved_jwks_url, **kwargs)

    # -- public API ------------------------------------------------------------------------------------

    def verify_bearer_header(self, value: str | None) -> Identity:
        """Verify an `Authorization: Bearer <jwt>` header value (scheme case-insensitive)."""
        return self.verify(bearer_token(value))

    def verify(self, token: str) -> Identity:
        import jwt

        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthorized("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, ValueError, TypeError):
            raise Unauthorized("malformed token") from None
        # Pin the algorithm before touching any key: this is what defeats `alg: none` and HS/RS confusion.
        if header.get("alg") != ALGORITHM:
            raise Unauthorized("token algorithm not accepted")
        if _REFUSED_HEADER_PARAMETERS & header.keys():
            raise Unauthorized("malformed token")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("token has no key ID")
        key = self._key_for(kid)

        try:
            claims = jwt.decode(
                token,
                key=key,  # an RSA public key object: can never be used as an HMAC secret
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                leeway=self._leeway,
                # The audience is checked below: an access token carries `client_id`, not `aud`.
                options={"require": ["exp", "iss", "sub"], "verify_aud": False},
            )
        except jwt.InvalidSignatureError:
            raise Unauthorized("invalid token signature") from None
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.ImmatureSignatureError:
            raise Unauthorized("token not yet valid") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("token issuer not accepted") from None
        except jwt.exceptions.InvalidSubjectError:
            raise Unauthorized("token subject not accepted") from None
        except jwt.MissingRequiredClaimError as exc:
            raise Unauthorized(f"token lacks the {exc.claim!r} claim") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise Unauthorized("malformed token") from None

        _check_time_claims(claims)
        token_use = claims.get("token_use")
        self._check_audience(claims, token_use)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not SUBJECT_PATTERN.fullmatch(subject):
            raise Unauthorized("token subject not accepted")
        return Identity(user_id=subject, token_use=token_use, claims=claims)

    # -- internals -------------------------------------------------------------------------------------

    def _check_audience(self, claims: Mapping[str, Any], token_use: Any) -> None:
        if token_use is not None and (not isinstance(token_use, str) or token_use not in TOKEN_USES):
            raise Unauthorized("token use not accepted")
        if token_use == "access":
            if claims.get("client_id") != self.audience:
                raise Unauthorized("token audience not accepted")
            return
        # ID token, or an issuer that does not say: the standard `aud` claim (string or list, RFC 7519).
        aud = claims.get("aud")
        if isinstance(aud, str):
            ok = aud == self.audience
        elif isinstance(aud, list):
            ok = self.audience in aud and all(isinstance(a, str) for a in aud)
        else:
            ok = False
        if not ok:
            raise Unauthorized("token audience not accepted")

    def _key_for(self, kid: str) -> RSAPublicKey:
        """The key for `kid`, fetching the JWKS when it is stale or the kid is new (key rotation).

        Refetches are rate-limited per URL, so a stream of tokens with made-up kids costs the JWKS
        endpoint at most one request per JWKS_MIN_REFETCH_SECONDS.
        """
        # The fetch happens under the lock on purpose: concurrent requests wait for one fetch instead of
        # each starting their own; it is rare (hourly, rate-limited) and bounded by the 3 s timeout.
        with _JWKS_LOCK:
            entry = _JWKS_CACHE.setdefault(self.jwks_url, _CachedKeys())
            now = self._monotonic()
            stale = entry.fetched_at is None or now - entry.fetched_at >= JWKS_TTL_SECONDS
            if (stale or kid not in entry.keys) and self._may_fetch(entry, now):
                self._refresh(entry, now)
            key = entry.keys.get(kid)
        if key is None:
            raise Unauthorized("token signed by an unknown key")
        return key

    @staticmethod
    def _may_fetch(entry: _CachedKeys, now: float) -> bool:
        return entry.attempted_at is None or now - entry.attempted_at >= JWKS_MIN_REFETCH_SECONDS

    def _refresh(self, entry: _CachedKeys, now: float) -> None:
        entry.attempted_at = now
        try:
            keys = _signing_keys(self._fetch_jwks(self.jwks_url))
        except Exception:  # noqa: BLE001 - any failure: keep the keys we had (an outage must not lock everyone out)
            logger.exception("could not fetch the JWKS; keeping %d cached keys", len(entry.keys))
            return
        entry.keys = keys
        entry.fetched_at = now


def _check_time_claims(claims: Mapping[str, Any]) -> None:
    """`exp`, `iat`, `nbf` are integers (Cognito's, and what this verifier promises to judge): PyJWT runs
    them through `int()`, so `"9999999999"`, `true` or `1.9` would otherwise be taken as a time."""
    for name in TIME_CLAIMS:
        value = claims.get(name)
        if name in claims and (not isinstance(value, int) or isinstance(value, bool)):
            raise Unauthorized(f"token's {name!r} claim is not an integer")


def bearer_token(value: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` value; refuses anything else."""
    if not value or not isinstance(value, str):
        raise Unauthorized("missing bearer token")
    parts = value.strip().split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        raise Unauthorized("missing bearer token")
    return parts[1]
