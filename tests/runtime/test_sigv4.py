"""The lean post path's signer is botocore's SigV4Auth, byte for byte, over generated requests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials
from hypothesis import given
from hypothesis import strategies as st

from session_runtime.management_api import connection_path, host_of
from session_runtime.sigv4 import Credentials, Signer, amz_date

_key_chars = st.characters(min_codepoint=33, max_codepoint=126)
secret_keys = st.text(_key_chars, min_size=20, max_size=40)
tokens = st.none() | st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=400)
credentials = st.builds(
    Credentials, access_key=st.text(_key_chars, min_size=16, max_size=24), secret_key=secret_keys, token=tokens
)
endpoints = st.sampled_from(
    [
        "https://abc123defg.execute-api.eu-west-1.amazonaws.com/prod",
        "https://Example.execute-api.us-east-1.amazonaws.com:443/live/",
        "http://127.0.0.1:4511/@ws",
        "http://localhost:80/",
        "https://ws.example.com:8443/a b/ü",
    ]
)
# API Gateway's IDs are base64 (`L0SM9cOFvHcCIhw=`); anything else must still be encoded the same way.
connection_ids = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40) | (
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_", min_size=1, max_size=20)
)
bodies = st.binary(max_size=300) | st.text(max_size=200).map(str.encode)  # any bytes; UTF-8 of any text
instants = st.integers(min_value=0, max_value=4_102_444_800)  # 1970 .. 2100


regions = st.sampled_from(["eu-west-1", "us-east-1", "ap-southeast-2"])
methods = st.sampled_from(["POST", "DELETE", "GET"])


def _botocore_headers(creds, region, endpoint, path, method, body, instant) -> dict[str, str]:
    """The signing headers botocore's SigV4Auth adds to this request at `instant`."""
    scheme, _, rest = endpoint.partition("://")
    request = AWSRequest(method=method, url=f"{scheme}://{rest.split('/', 1)[0]}{path}", data=body)
    frozen = dt.datetime.fromtimestamp(instant, dt.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=frozen):
        SigV4Auth(BotocoreCredentials(creds.access_key, creds.secret_key, creds.token), "execute-api", region).add_auth(
            request
        )
    names = ("X-Amz-Date", "Authorization") + (("X-Amz-Security-Token",) if creds.token else ())
    return {name: request.headers[name] for name in names}


def _assert_signed_as_botocore(ours, creds, region, endpoint, path, method, body, instant):
    theirs = _botocore_headers(creds, region, endpoint, path, method, body, instant)
    assert {name: ours[name] for name in theirs} == theirs
    assert set(ours) == {"Host", *theirs}
    assert ours["Host"] == host_of(endpoint)


@given(credentials, regions, endpoints, connection_ids, methods, bodies, instants)
def test_signature_is_botocores(creds, region, endpoint, connection_id, method, body, instant):
    path = connection_path(endpoint, connection_id)
    ours = dict(Signer(region).headers(method, host_of(endpoint), path, body, creds, amz_date(instant)))
    _assert_signed_as_botocore(ours, creds, region, endpoint, path, method, body, instant)


# Instants a few hours apart, so a run of requests crosses days (the signing key's validity) and repeats some.
_near_instants = st.integers(min_value=1_700_000_000, max_value=1_700_000_000 + 4 * 86_400)
# Per request: the same credentials, new ones, or only a new secret or token under the same access key.
_credential_changes = st.one_of(
    st.just(lambda creds: creds),
    credentials.map(lambda new: lambda _: new),
    secret_keys.map(lambda secret: lambda creds: dataclasses.replace(creds, secret_key=secret)),
    tokens.map(lambda token: lambda creds: dataclasses.replace(creds, token=token)),
)
_requests = st.tuples(_credential_changes, connection_ids, methods, bodies, _near_instants)


@given(regions, endpoints, credentials, st.lists(_requests, min_size=1, max_size=12))
def test_a_reused_signer_is_botocores_for_every_request(region, endpoint, first_credentials, requests):
    """The cached parts (signing key per day and key, canonical path per path, canonical headers per host and
    token, the date per second) never leak from one request into another: a signer reused over requests of
    other days, credentials, connections and bodies signs each as a fresh botocore signer does."""
    signer = Signer(region)
    creds = first_credentials
    for change_credentials, connection_id, method, body, instant in requests:
        creds = change_credentials(creds)
        path = connection_path(endpoint, connection_id)
        ours = dict(signer.headers(method, host_of(endpoint), path, body, creds, amz_date(instant)))
        _assert_signed_as_botocore(ours, creds, region, endpoint, path, method, body, instant)


def test_the_path_is_the_one_boto3_sends():
    """The URL a boto3 post_to_connection would call, so API Gateway sees the same request."""
    import boto3

    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url="https://abc.execute-api.eu-west-1.amazonaws.com/prod", region_name="x"
    )
    seen = []
    client.meta.events.register("before-send", lambda request, **_: seen.append(request.url) or _ok())
    client.post_to_connection(ConnectionId="L0SM9cOF+/Cx=", Data=b"{}")
    assert seen == [
        "https://abc.execute-api.eu-west-1.amazonaws.com" + connection_path(client.meta.endpoint_url, "L0SM9cOF+/Cx=")
    ]


def _ok():
    from botocore.awsrequest import AWSResponse

    return AWSResponse("https://x", 200, {}, mock.Mock(stream=lambda: iter([b""]), read=lambda *a: b""))
