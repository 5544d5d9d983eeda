"""The embedded moto server keeps a connection open between requests (local/dynamodb/keep_alive.py): a handler's
DynamoDB calls reuse their connection instead of opening one per call, and each answer is the one moto gives."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from local.dynamodb.backend import EmbeddedMoto, ensure_table

_HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    "Authorization": "AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    moto = EmbeddedMoto()
    url = moto.start()
    moto.wait_ready()
    ensure_table(url, "kept")
    yield url
    moto.stop()


def _call(connection: http.client.HTTPConnection, target: str, body: dict) -> tuple[http.client.HTTPResponse, dict]:
    connection.request("POST", "/", json.dumps(body), {**_HEADERS, "X-Amz-Target": f"DynamoDB_20120810.{target}"})
    answer = connection.getresponse()
    return answer, json.loads(answer.read())


def test_calls_share_one_connection_and_read_what_was_written(moto_url: str) -> None:
    parts = urlsplit(moto_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port)
    key = {"PK": {"S": "p"}, "SK": {"S": "k"}}
    answer, _ = _call(connection, "PutItem", {"TableName": "kept", "Item": {**key, "v": {"S": "é" * 300}}})
    first_socket = connection.sock
    assert answer.status == 200 and answer.getheader("Connection") is None
    for _ in range(3):
        answer, body = _call(connection, "GetItem", {"TableName": "kept", "Key": key, "ConsistentRead": True})
        assert answer.status == 200 and body["Item"]["v"] == {"S": "é" * 300}
        assert connection.sock is first_socket  # not reopened: the server left it open
    answer, body = _call(connection, "GetItem", {"TableName": "absent", "Key": key})
    assert answer.status == 400 and body["__type"].endswith("ResourceNotFoundException")
    assert connection.sock is first_socket  # an error answer keeps it open too


def test_a_chunked_request_is_answered_and_its_connection_closed(moto_url: str) -> None:
    """A body of unknown length: the server cannot tell where the next request would start, so it closes."""
    parts = urlsplit(moto_url)
    body = json.dumps({}).encode()
    headers = {**_HEADERS, "X-Amz-Target": "DynamoDB_20120810.ListTables"}
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    request = f"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n{head}\r\n{len(body):x}\r\n".encode()
    with socket.create_connection((parts.hostname or "", parts.port or 0), timeout=10) as sock:
        sock.sendall(request + body + b"\r\n0\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):  # ends when the server closes
            received += chunk
    assert received.startswith(b"HTTP/1.1 200") and b"Connection: close" in received
    assert b'"TableNames": ["kept"]' in received
