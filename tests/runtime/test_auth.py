"""Token verification: every attack a user relies on being refused, and the tokens that must pass."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import stat
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwt.algorithms import RSAAlgorithm

from session_runtime import auth
from session_runtime.auth import (
    JWKS_MIN_REFETCH_SECONDS,
    JWKS_TTL_SECONDS,
    Identity,
    TokenVerifier,
    bearer_token,
    clear_jwks_cache,
    fetch_jwks_over_http,
)
from session_schema.errors import Unauthorized
from session_schema.settings import load_settings

from local.cognito.issuer import JWKS_PATH, KEY_FILE_NAME, LocalIssuer

ISSUER = "http://127.0.0.1:3000/local-issuer"
AUDIENCE = "local-client"
JWKS_URL = ISSUER + JWKS_PATH


# -- helpers -----------------------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: Any) -> str:
    return b64url(json.dumps(obj).encode())


def claims_for(sub: str = "user-1", **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "token_use": "id", "iat": now, "exp": now + 600, **extra}


def hs256_token(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    signing_input = f"{segment(header)}.{segment(claims)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


class FakeJwks:
    """An injectable JWKS endpoint that counts how often it is asked."""

    def __init__(self, *documents: Mapping[str, Any]) -> None:
        self.document: Mapping[str, Any] = {"keys": [k for d in documents for k in d["keys"]]}
        self.calls: list[str] = []
        self.fail = False

    def __call__(self, url: str) -> Mapping[str, Any]:
        self.calls.append(url)
        if self.fail:
            raise OSError("connection refused to secret-internal-host:8443")
        return self.document


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def refused(verifier: TokenVerifier, token: str, fragment: str = "") -> Unauthorized:
    with pytest.raises(Unauthorized) as info:
        verifier.verify(token)
    assert info.value.code == "UNAUTHORIZED" and info.value.status == 401
    assert fragment in info.value.message
    # never leak internals: no URLs, hosts, key material or library wording in what the client sees
    assert "http" not in info.value.message and "secret" not in info.value.message
    return info.value


# -- fixtures (RSA keys are made once per module: key generation is the slow part) -----------------------


@pytest.fixture(scope="module")
def issuer() -> LocalIssuer:
    return LocalIssuer(ISSUER, AUDIENCE)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rotated(other_key: rsa.RSAPrivateKey) -> LocalIssuer:
    """The same issuer after a key rotation."""
    return LocalIssuer(ISSUER, AUDIENCE, private_key=other_key)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_jwks_cache()
    yield
    clear_jwks_cache()


@pytest.fixture()
def jwks(issuer: LocalIssuer) -> FakeJwks:
    return FakeJwks(issuer.jwks())


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture()
def verifier(jwks: FakeJwks, clock: FakeClock) -> TokenVerifier:
    return TokenVerifier(ISSUER, AUDIENCE, JWKS_URL, fetch_jwks=jwks, monotonic=clock)


# -- accepted ------------------------------------------------------------------------------------------------


def test_valid_id_token_is_accepted(verifier: TokenVerifier, issuer: LocalIssuer, jwks: FakeJwks) -> None:
    identity = verifier.verify(issuer.mint("alice-123"))
    assert isinstance(identity, Identity)
    assert identity.user_id == "alice-123"
    assert identity.token_use == "id"
    assert identity.claims["cognito:username"] == "alice-123"
    assert identity.claims["aud"] == AUDIENCE
    assert jwks.calls == [JWKS_URL]


def test_valid_access_token_with_client_id_is_accepted(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    token = issuer.mint("bob", token_use="access")
    assert "aud" not in jwt.decode(token, options={"verify_signature": False})
    identity = verifier.verify(token)
    assert (identity.user_id, identity.token_use) == ("bob", "access")


def test_token_without_token_use_is_accepted_on_aud(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    identity = verifier.verify(issuer.mint("carol", token_use=None))
    assert identity.token_use is None and identity.user_id == "carol"


def test_aud_as_list_containing_audience_is_accepted(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    assert verifier.verify(issuer.mint("dave", aud=["other", AUDIENCE])).user_id == "dave"


@pytest.mark.parametrize(
    "sub", ["a", "0f6c2f1e-1b7a-4f0e-9d7e-3c8d7f1e2a9b", "user@example.com", "x" * 128, "a:b_c.d-e"]
)
def test_safe_subjects_are_accepted(verifier: TokenVerifier, issuer: LocalIssuer, sub: str) -> None:
    assert verifier.verify(issuer.mint(sub)).user_id == sub


def test_cached_keys_mean_no_fetch_per_request(
    verifier: TokenVerifier, issuer: LocalIssuer, jwks: FakeJwks, clock: FakeClock
) -> None:
    for _ in range(5):
        verifier.verify(issuer.mint("alice"))
    # a second verifier in the same process (e.g. the other handler's) shares the cache
    TokenVerifier(ISSUER, AUDIENCE, JWKS_URL, fetch_jwks=jwks, monotonic=clock).verify(issuer.mint("alice"))
    assert len(jwks.calls) == 1


def test_small_clock_skew_is_tolerated(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    now = int(time.time())
    assert verifier.verify(issuer.mint("alice", exp=now - 10)).user_id == "alice"
    assert verifier.verify(issuer.mint("alice", iat=now + 10, nbf=now + 10)).user_id == "alice"


# -- time ------------------------------------------------------------------------------------------------------


def test_expired_token_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    refused(verifier, issuer.mint("alice", exp=int(time.time()) - 90), "expired")


def test_missing_exp_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    refused(verifier, issuer.mint("alice", exp=None), "exp")


def test_not_yet_valid_nbf_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    refused(verifier, issuer.mint("alice", nbf=int(time.time()) + 600), "not yet valid")


def test_iat_in_the_future_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    refused(verifier, issuer.mint("alice", iat=int(time.time()) + 600), "not yet valid")


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_non_numeric_time_claims_are_refused(verifier: TokenVerifier, issuer: LocalIssuer, claim: str) -> None:
    refused(verifier, issuer.mint("alice", **{claim: "tomorrow"}))


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("shape", [str, float, bool])
def test_time_claims_that_are_numbers_but_not_json_integers_are_refused(
    verifier: TokenVerifier, issuer: LocalIssuer, claim: str, shape: type
) -> None:
    # Each of these would be a valid time once int()-ed (PyJWT does): a string, a fraction, `true` (= 1 s).
    now = int(time.time())
    valid = {"exp": now + 600, "iat": now - 5, "nbf": now - 5}[claim]
    value = {str: str(valid), float: valid + 0.5, bool: True}[shape]
    # `exp: true` is 1970 to PyJWT, so that one is refused as expired first: refused either way.
    fragment = "expired" if (claim, shape) == ("exp", bool) else f"{claim!r} claim is not an integer"
    refused(verifier, issuer.mint("alice", **{claim: value}), fragment)


# -- issuer and audience ----------------------------------------------------------------------------------


def test_wrong_issuer_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    refused(verifier, issuer.mint("alice", iss="https://cognito-idp.eu-west-1.amazonaws.com/other"), "issuer")
    refused(verifier, issuer.mint("alice", iss=ISSUER + "/"), "issuer")


def test_missing_issuer_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    refused(verifier, issuer.mint("alice", iss=None), "iss")


def test_wrong_audience_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    refused(verifier, issuer.mint("alice", aud="another-client"), "audience")
    refused(verifier, issuer.mint("alice", aud=["another-client"]), "audience")


def test_id_token_without_aud_is_refused_even_with_client_id(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    refused(verifier, issuer.mint("alice", aud=None, client_id=AUDIENCE), "audience")


def test_access_token_with_wrong_client_id_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    refused(verifier, issuer.mint("alice", token_use="access", client_id="another-client"), "audience")
    # an `aud` naming us does not rescue an access token whose client_id is someone else's
    refused(verifier, issuer.mint("alice", token_use="access", client_id="another-client", aud=AUDIENCE), "audience")
    refused(verifier, issuer.mint("alice", token_use="access", client_id=None), "audience")


def test_token_without_token_use_needs_aud(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    refused(verifier, issuer.mint("alice", token_use=None, aud=None, client_id=AUDIENCE), "audience")


@pytest.mark.parametrize("token_use", ["refresh", "ID", "", ["id"], 1])
def test_unknown_token_use_is_refused(verifier: TokenVerifier, issuer: LocalIssuer, token_use: Any) -> None:
    refused(verifier, issuer.mint("alice", token_use=token_use), "token use")


# -- subject ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sub", ["alice#SESSION", "USER#x", "", "-leading-dash", "alice\n", "al ice", "x" * 129, "é", 42, ["alice"]]
)
def test_unsafe_subject_is_refused(verifier: TokenVerifier, issuer: LocalIssuer, sub: Any) -> None:
    refused(verifier, issuer.mint("ignored", sub=sub), "subject")


def test_missing_subject_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    refused(verifier, issuer.mint("alice", sub=None), "sub")


# -- algorithm attacks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", ""])
def test_alg_none_is_refused(verifier: TokenVerifier, issuer: LocalIssuer, alg: str, jwks: FakeJwks) -> None:
    unsigned = f"{segment({'alg': alg, 'kid': issuer.kid, 'typ': 'JWT'})}.{segment(claims_for())}."
    refused(verifier, unsigned, "algorithm")
    # also with a signature segment copied from a genuine token
    genuine_signature = issuer.mint("user-1").split(".")[2]
    refused(verifier, unsigned + genuine_signature, "algorithm")
    assert jwks.calls == []  # refused before any key lookup


def test_alg_header_missing_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    refused(verifier, f"{segment({'kid': issuer.kid})}.{segment(claims_for())}.", "algorithm")


def _public_key_encodings(issuer: LocalIssuer) -> list[bytes]:
    jwk = issuer.jwks()["keys"][0]
    public = RSAAlgorithm.from_jwk(jwk)
    assert isinstance(public, rsa.RSAPublicKey)
    spki = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    pkcs1 = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    ssh = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return [spki, spki.rstrip(b"\n"), pkcs1, ssh, der, json.dumps(jwk).encode(), json.dumps(issuer.jwks()).encode()]


def test_hs256_signed_with_the_public_key_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    """The classic RS/HS confusion: an attacker HMACs with the (public) verification key as the secret."""
    for secret in _public_key_encodings(issuer):
        for alg in ("HS256", "HS384", "HS512", "hs256"):
            token = hs256_token(secret, {"alg": alg, "kid": issuer.kid, "typ": "JWT"}, claims_for("admin"))
            refused(verifier, token, "algorithm")


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256", "PS512"])
def test_other_rsa_algorithms_with_the_right_key_are_refused(
    verifier: TokenVerifier, issuer: LocalIssuer, alg: str
) -> None:
    # the algorithm is pinned by the verifier, not chosen by the token, even when the signature is genuine
    token = jwt.encode(claims_for(), issuer._private_key, algorithm=alg, headers={"kid": issuer.kid})
    refused(verifier, token, "algorithm")


def test_ecdsa_token_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    token = jwt.encode(
        claims_for(), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": issuer.kid}
    )
    refused(verifier, token, "algorithm")


# -- key attacks -------------------------------------------------------------------------------------------------


def test_other_key_with_the_same_kid_is_refused(
    verifier: TokenVerifier, issuer: LocalIssuer, other_key: rsa.RSAPrivateKey
) -> None:
    forged = jwt.encode(claims_for("alice"), other_key, algorithm="RS256", headers={"kid": issuer.kid})
    refused(verifier, forged, "signature")


def test_key_embedded_in_the_header_is_ignored(
    verifier: TokenVerifier, issuer: LocalIssuer, other_key: rsa.RSAPrivateKey, jwks: FakeJwks
) -> None:
    attacker_jwk = RSAAlgorithm.to_jwk(other_key.public_key(), as_dict=True)
    for kid in (issuer.kid, "attacker"):
        headers = {
            "kid": kid,
            "jwk": attacker_jwk,
            "jku": "https://attacker.example/jwks.json",
            "x5u": "https://a.example",
        }
        forged = jwt.encode(claims_for("alice"), other_key, algorithm="RS256", headers=headers)
        refused(verifier, forged)
    assert set(jwks.calls) == {JWKS_URL}  # the token's own URLs are never fetched


def test_crit_header_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    token = jwt.encode(
        claims_for(), issuer._private_key, algorithm="RS256", headers={"kid": issuer.kid, "crit": ["exp"]}
    )
    refused(verifier, token)


def test_missing_kid_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    refused(verifier, jwt.encode(claims_for(), issuer._private_key, algorithm="RS256"), "key ID")
    for kid in (7, "", None, ["k"]):
        header = segment({"alg": "RS256", "kid": kid})
        payload = segment(claims_for())
        signature = issuer._private_key.sign(f"{header}.{payload}".encode(), *_pkcs1_sha256())
        refused(verifier, f"{header}.{payload}.{b64url(signature)}")


def test_tampered_payload_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    header, _, signature = issuer.mint("alice").split(".")
    refused(verifier, f"{header}.{segment(claims_for('admin'))}.{signature}", "signature")


def test_tampered_signature_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    header, payload, signature = issuer.mint("alice").split(".")
    raw = base64.urlsafe_b64decode(signature + "==")
    flipped = b64url(bytes([raw[0] ^ 1]) + raw[1:])
    refused(verifier, f"{header}.{payload}.{flipped}", "signature")
    refused(verifier, f"{header}.{payload}.", "signature")


# -- rotation and the JWKS endpoint --------------------------------------------------------------------------


def test_unknown_kid_refetches_once_then_refuses(
    verifier: TokenVerifier, issuer: LocalIssuer, other_key: rsa.RSAPrivateKey, jwks: FakeJwks, clock: FakeClock
) -> None:
    verifier.verify(issuer.mint("alice"))
    clock.now += JWKS_MIN_REFETCH_SECONDS + 1
    token = jwt.encode(claims_for(), other_key, algorithm="RS256", headers={"kid": "not-published"})
    refused(verifier, token, "unknown key")
    assert len(jwks.calls) == 2


def test_rotation_new_key_is_accepted_after_one_refetch(
    verifier: TokenVerifier, issuer: LocalIssuer, rotated: LocalIssuer, jwks: FakeJwks, clock: FakeClock
) -> None:
    verifier.verify(issuer.mint("alice"))
    jwks.document = {"keys": issuer.jwks()["keys"] + rotated.jwks()["keys"]}  # the issuer publishes a new key
    clock.now += JWKS_MIN_REFETCH_SECONDS + 1
    assert verifier.verify(rotated.mint("alice")).user_id == "alice"
    assert verifier.verify(issuer.mint("alice")).user_id == "alice"  # the old key still works while published
    assert len(jwks.calls) == 2


def test_unknown_kids_do_not_hammer_the_jwks_endpoint(
    verifier: TokenVerifier, issuer: LocalIssuer, other_key: rsa.RSAPrivateKey, jwks: FakeJwks, clock: FakeClock
) -> None:
    verifier.verify(issuer.mint("alice"))
    for i in range(50):
        clock.now += 0.1
        token = jwt.encode(claims_for(), other_key, algorithm="RS256", headers={"kid": f"made-up-{i}"})
        refused(verifier, token, "unknown key")
    assert len(jwks.calls) == 1  # all within the rate-limit window of the first fetch
    clock.now += JWKS_MIN_REFETCH_SECONDS
    for i in range(50):
        token = jwt.encode(claims_for(), other_key, algorithm="RS256", headers={"kid": f"again-{i}"})
        refused(verifier, token, "unknown key")
    assert len(jwks.calls) == 2  # one more fetch per window, however many tokens


def test_keys_are_refreshed_after_the_ttl(
    verifier: TokenVerifier, issuer: LocalIssuer, jwks: FakeJwks, clock: FakeClock
) -> None:
    verifier.verify(issuer.mint("alice"))
    clock.now += JWKS_TTL_SECONDS + 1
    verifier.verify(issuer.mint("alice"))
    assert len(jwks.calls) == 2


def test_a_removed_key_stops_working_after_refresh(
    verifier: TokenVerifier, issuer: LocalIssuer, rotated: LocalIssuer, jwks: FakeJwks, clock: FakeClock
) -> None:
    verifier.verify(issuer.mint("alice"))
    jwks.document = rotated.jwks()
    clock.now += JWKS_TTL_SECONDS + 1
    refused(verifier, issuer.mint("alice"), "unknown key")


def test_jwks_outage_keeps_cached_keys_and_leaks_nothing(
    verifier: TokenVerifier, issuer: LocalIssuer, jwks: FakeJwks, clock: FakeClock
) -> None:
    verifier.verify(issuer.mint("alice"))
    jwks.fail = True
    clock.now += JWKS_TTL_SECONDS + 1
    assert verifier.verify(issuer.mint("alice")).user_id == "alice"  # stale keys beat locking everyone out
    clear_jwks_cache()
    refused(verifier, issuer.mint("alice"), "unknown key")
    refused(verifier, issuer.mint("alice"), "unknown key")
    assert len(jwks.calls) == 3  # the failed cold fetch is rate-limited too


def test_unusable_jwks_entries_are_skipped(issuer: LocalIssuer, clock: FakeClock) -> None:
    good = issuer.jwks()["keys"][0]
    private_jwk = json.loads(RSAAlgorithm.to_jwk(issuer._private_key))
    document = {
        "keys": [
            {**private_jwk, "kid": "leaked-private"},
            {**good, "kid": "enc-key", "use": "enc"},
            {**good, "kid": "other-alg", "alg": "RS512"},
            {"kty": "oct", "kid": "hmac", "k": b64url(b"secret")},
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            "not-a-key",
            {**good, "kid": None},
            good,
        ]
    }
    assert set(auth._signing_keys(document)) == {issuer.kid}
    with pytest.raises(ValueError):
        auth._signing_keys({"keys": "nope"})


def test_jwks_fetched_over_http(issuer: LocalIssuer) -> None:
    body = json.dumps(issuer.jwks()).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            found = self.path == "/local-issuer" + JWKS_PATH
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body if found else b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/local-issuer"
        assert fetch_jwks_over_http(base + JWKS_PATH) == issuer.jwks()
        local = LocalIssuer(base, AUDIENCE, private_key=issuer._private_key)
        verifier = TokenVerifier(base, AUDIENCE, base + JWKS_PATH)  # the real urllib fetcher
        assert verifier.verify(local.mint("alice")).user_id == "alice"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/jwks.json", "data:,{}"])
def test_jwks_fetch_refuses_non_http_urls(url: str) -> None:
    with pytest.raises(ValueError):
        fetch_jwks_over_http(url)


# -- malformed input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "a.b.c.d.e",
        "...",
        "....",
        f"{b64url(b'not json')}.{segment({})}.",
        f"{segment(['alg', 'RS256'])}.{segment({})}.",
        f"{segment('RS256')}.{segment({})}.",
        f"!!!.{segment({})}.sig",
        f"{segment({'alg': 'RS256', 'kid': 'k'})}.{segment({})}.{'A' * 342}",
        "Bearer x.y.z",
        "x" * 20000,
        "\x00\x00.\x00.\x00",
    ],
)
def test_malformed_tokens_are_refused(verifier: TokenVerifier, token: str) -> None:
    refused(verifier, token)


def test_non_json_object_payload_is_refused(verifier: TokenVerifier, issuer: LocalIssuer) -> None:
    header = segment({"alg": "RS256", "kid": issuer.kid})
    for payload in (b64url(b"not json"), segment(["sub", "alice"]), segment("alice")):
        signing_input = f"{header}.{payload}".encode()
        signature = issuer._private_key.sign(signing_input, *_pkcs1_sha256())
        refused(verifier, f"{header}.{payload}.{b64url(signature)}", "malformed")


def _pkcs1_sha256() -> tuple[Any, Any]:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return padding.PKCS1v15(), hashes.SHA256()


def test_non_string_token_is_refused(verifier: TokenVerifier) -> None:
    for value in (None, b"a.b.c", 42):
        with pytest.raises(Unauthorized):
            verifier.verify(value)  # type: ignore[arg-type]


# -- Authorization header -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer  ", "Bearer a b", "Token abc", "Bearerabc"],
)
def test_bad_authorization_headers_are_refused(verifier: TokenVerifier, value: str | None) -> None:
    with pytest.raises(Unauthorized) as info:
        verifier.verify_bearer_header(value)
    assert info.value.status == 401


@pytest.mark.parametrize("template", ["Bearer {t}", "bearer {t}", "BEARER {t}", "  Bearer   {t}  "])
def test_bearer_scheme_is_case_insensitive(verifier: TokenVerifier, issuer: LocalIssuer, template: str) -> None:
    token = issuer.mint("alice")
    assert bearer_token(template.format(t=token)) == token
    assert verifier.verify_bearer_header(template.format(t=token)).user_id == "alice"


# -- construction --------------------------------------------------------------------------------------------


def test_from_settings_uses_the_declared_settings() -> None:
    settings = load_settings({"TABLE_NAME": "t", "JWT_ISSUER": ISSUER + "/", "JWT_AUDIENCE": AUDIENCE})
    verifier = TokenVerifier.from_settings(settings)
    assert (verifier.issuer, verifier.audience, verifier.jwks_url) == (ISSUER + "/", AUDIENCE, JWKS_URL)
    explicit = load_settings(
        {"TABLE_NAME": "t", "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE, "JWKS_URL": "https://k"}
    )
    assert TokenVerifier.from_settings(explicit).jwks_url == "https://k"


def test_unconfigured_verifier_fails_at_construction() -> None:
    with pytest.raises(ValueError):
        TokenVerifier.from_settings(load_settings({"TABLE_NAME": "t"}))
    with pytest.raises(ValueError):
        TokenVerifier(ISSUER, AUDIENCE, JWKS_URL, leeway_seconds=3600)


# -- fuzz ------------------------------------------------------------------------------------------------------

_fuzz_jwks = FakeJwks({"keys": []})
_fuzz_verifier = TokenVerifier(ISSUER, AUDIENCE, "http://fuzz.invalid/jwks.json", fetch_jwks=_fuzz_jwks)

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
_headers = st.fixed_dictionaries(
    {"alg": st.sampled_from(["RS256", "none", "HS256"]) | st.text(max_size=8) | _json_values},
    optional={"kid": _json_values, "crit": _json_values, "typ": _json_values},
)
_structured = st.builds(
    lambda h, p, s: f"{segment(h)}.{segment(p)}.{s}",
    _headers,
    _json_values,
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=", max_size=64),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text()
    | st.binary().map(lambda b: b.decode("latin-1"))
    | _structured
    | st.lists(st.text(max_size=12)).map(".".join)
)
def test_arbitrary_input_only_ever_raises_unauthorized(token: str) -> None:
    with pytest.raises(Unauthorized):
        _fuzz_verifier.verify(token)
    with pytest.raises(Unauthorized):
        _fuzz_verifier.verify_bearer_header("Bearer " + token)


# -- the local issuer ----------------------------------------------------------------------------------------


def test_local_issuer_publishes_only_public_material(issuer: LocalIssuer) -> None:
    (jwk,) = issuer.jwks()["keys"]
    assert jwk["kid"] == issuer.kid and jwk["alg"] == "RS256" and jwk["use"] == "sig" and jwk["kty"] == "RSA"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & jwk.keys()
    assert issuer.jwks_url == JWKS_URL


def test_local_issuer_key_persists_across_processes(tmp_path: Any, issuer: LocalIssuer) -> None:
    state = tmp_path / "state"
    first = LocalIssuer.load_or_create(state, ISSUER, AUDIENCE)
    key_file = state / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    second = LocalIssuer.load_or_create(state, ISSUER, AUDIENCE)  # e.g. `python -m local token alice`
    assert second.kid == first.kid and second.jwks() == first.jwks()
    clear_jwks_cache()
    served = TokenVerifier(ISSUER, AUDIENCE, JWKS_URL, fetch_jwks=lambda _url: first.jwks())
    assert served.verify(second.mint("alice")).user_id == "alice"
    assert [p.name for p in state.iterdir()] == [KEY_FILE_NAME]  # no temporary files left behind
