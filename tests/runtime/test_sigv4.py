"""The lean post path's signer is botocore's SigV4Auth, byte for byte, over generated requests."""

from __future__ import annotations

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
credentials = st.builds(
    Credentials,
    access_key=st.text(_key_chars, min_size=16, max_size=24),
    secret_key=st.text(_key_chars, min_size=20, max_size=40),
    token=st.none() | st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=400),
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


@given(
    credentials,
    st.sampled_from(["eu-west-1", "us-east-1", "ap-southeast-2"]),
    endpoints,
    connection_ids,
    st.sampled_from(["POST", "DELETE", "GET"]),
    bodies,
    instants,
)
def test_signature_is_botocores(creds, region, endpoint, connection_id, method, body, instant):
    path = connection_path(endpoint, connection_id)
    host = host_of(endpoint)
    date = amz_date(instant)
    ours = dict(Signer(region).headers(method, host, path, body, creds, date))

    scheme, _, rest = endpoint.partition("://")
    request = AWSRequest(method=method, url=f"{scheme}://{rest.split('/', 1)[0]}{path}", data=body)
    frozen = dt.datetime.fromtimestamp(instant, dt.UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=frozen):
        SigV4Auth(BotocoreCredentials(creds.access_key, creds.secret_key, creds.token), "execute-api", region).add_auth(
            request
        )
    theirs = {name: request.headers[name] for name in ("X-Amz-Date", "Authorization")}
    if creds.token:
        theirs["X-Amz-Security-Token"] = request.headers["X-Amz-Security-Token"]
    assert {name: ours[name] for name in theirs} == theirs
    assert set(ours) == {"Host", *theirs}
    assert ours["Host"] == host


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
