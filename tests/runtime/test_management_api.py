"""The lean post path against a real HTTP server on 127.0.0.1: keep-alive reuse, bounded calls in flight,
410 passed through, 429 retried with bounded backoff, a silent server timed out, a dropped idle connection
replaced, https. The server answers by connection ID (`ok-*`, `gone-*`, `throttled-N-*`, `busy-*`,
`silent-*`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotocoreCredentials

from session_runtime.management_api import ManagementApi
from session_runtime.sigv4 import Credentials

CREDENTIALS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token/+=")
REGION = "eu-west-1"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """A management API: answers each request by the connection ID at the end of its path."""

    requests: list[Request] = field(default_factory=list)
    connections_opened: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    attempts: Counter[str] = field(default_factory=Counter)
    drop_after_answer: bool = False  # close every connection once it answered (a server dropping idle ones)
    port: int = 0

    def status_for(self, connection_id: str) -> int | None:
        self.attempts[connection_id] += 1
        kind, _, rest = connection_id.partition("-")
        if kind == "gone":
            return 410
        if kind == "busy":
            return 429
        if kind == "throttled":  # throttled-N-...: N 429s, then OK
            return 429 if self.attempts[connection_id] <= int(rest.split("-")[0]) else 200
        if kind == "silent":
            return None
        return 204 if self.requests[-1].method == "DELETE" else 200

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections_opened += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, path, _ = lines[0].split(" ")
                headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                self.requests.append(Request(method, path, headers, body))
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
                await asyncio.sleep(0.002)
                status = self.status_for(path.rsplit("/", 1)[1])
                self.in_flight -= 1
                if status is None:
                    await asyncio.sleep(30)
                    return
                payload = b'{"message":null}' if status >= 400 else b""
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload)
                await writer.drain()
                if self.drop_after_answer:
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _serve(server: Server, tls: ssl.SSLContext | None = None) -> asyncio.Server:
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
    server.port = listening.sockets[0].getsockname()[1]
    return listening


def _api(server: Server, scheme: str = "http", **options) -> ManagementApi:
    return ManagementApi(f"{scheme}://127.0.0.1:{server.port}/stage", lambda: CREDENTIALS, REGION, **options)


def run(coroutine):
    return asyncio.run(coroutine)


def test_posts_are_signed_requests_on_few_keep_alive_connections():
    async def main():
        server = Server()
        async with await _serve(server):
            api = _api(server, connections=4)
            ids = [f"ok-{i}" for i in range(200)]
            data = '{"t":"héllo ✓"}'.encode()
            statuses = await asyncio.gather(*(api.post_to_connection(connection_id=i, data=data) for i in ids))
            assert await api.delete_connection(connection_id="ok-x") == 204
            return server, statuses

    server, statuses = run(main())
    assert statuses == [200] * 200
    assert server.connections_opened <= 4 and server.max_in_flight <= 4  # many posts, a few connections
    first = server.requests[0]
    assert first.method == "POST" and first.path.startswith("/stage/@connections/ok-")
    assert first.body == '{"t":"héllo ✓"}'.encode()
    assert first.headers["x-amz-security-token"] == CREDENTIALS.token
    # The server can check the signature as API Gateway would: botocore signing the same request agrees.
    request = AWSRequest(method="POST", url=f"http://127.0.0.1:{server.port}{first.path}", data=first.body)
    when = dt.datetime.strptime(first.headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    from unittest import mock

    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        SigV4Auth(BotocoreCredentials(*vars(CREDENTIALS).values()), "execute-api", REGION).add_auth(request)
    assert first.headers["authorization"] == request.headers["Authorization"]
    assert server.requests[-1].method == "DELETE"


def test_gone_is_answered_and_throttling_is_retried_then_given_up_within_the_bound():
    async def main():
        server = Server()
        async with await _serve(server):
            api = _api(server, timeout=1.0, max_attempts=4)
            gone = await api.post_to_connection(connection_id="gone-1", data=b"{}")
            recovered = await api.post_to_connection(connection_id="throttled-2-a", data=b"{}")
            started = time.monotonic()
            throttled = await api.post_to_connection(connection_id="busy-1", data=b"{}")
            return server, gone, recovered, throttled, time.monotonic() - started

    server, gone, recovered, throttled, took = run(main())
    assert (gone, server.attempts["gone-1"]) == (410, 1)  # not retried: the caller unregisters it
    assert (recovered, server.attempts["throttled-2-a"]) == (200, 3)
    assert throttled == 429 and 2 <= server.attempts["busy-1"] <= 4 and took < 1.5


def test_a_silent_server_is_timed_out_and_the_others_go_on():
    async def main():
        server = Server()
        async with await _serve(server):
            api = _api(server, connections=2, timeout=0.5)
            started = time.monotonic()
            silent, ok = await asyncio.gather(
                api.post_to_connection(connection_id="silent-1", data=b"{}"),
                api.post_to_connection(connection_id="ok-1", data=b"{}"),
                return_exceptions=True,
            )
            took = time.monotonic() - started
            again = await api.post_to_connection(connection_id="ok-2", data=b"{}")  # the pool is still usable
            return silent, ok, took, again

    silent, ok, took, again = run(main())
    assert isinstance(silent, TimeoutError) and ok == 200 and again == 200
    assert 0.4 < took < 2.0


def test_a_reused_connection_times_out_each_request_by_its_own_deadline():
    """The watchdog is one timer per connection, armed by an earlier request: a silent answer on the reused
    connection is timed out by its own deadline, neither sooner nor never."""

    async def main():
        server = Server()
        async with await _serve(server):
            api = _api(server, connections=1, timeout=0.5)
            assert await api.post_to_connection(connection_id="ok-1", data=b"{}") == 200  # arms it for ~0.5 s
            await asyncio.sleep(0.3)
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                await api.post_to_connection(connection_id="silent-1", data=b"{}")
            return time.monotonic() - started, server.connections_opened

    took, connections = run(main())
    assert 0.45 < took < 2.0 and connections == 1  # the same connection, its full 0.5 s


def test_a_connection_the_server_dropped_is_replaced_without_losing_the_post():
    async def main():
        server = Server(drop_after_answer=True)
        async with await _serve(server):
            api = _api(server, connections=1)
            statuses = []
            for i in range(5):
                statuses.append(await api.post_to_connection(connection_id=f"ok-{i}", data=b"{}"))
                await asyncio.sleep(0.01)  # the server's close arrives while the connection is idle
            return server, statuses

    server, statuses = run(main())
    assert statuses == [200] * 5 and len(server.requests) == 5  # each post sent once
    assert server.connections_opened == 5


def test_https(tmp_path: Path):
    certificate, key = _self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certificate, key)

    async def main():
        server = Server()
        async with await _serve(server, tls):
            api = _api(server, scheme="https")
            api.ssl_context = ssl.create_default_context(cafile=str(certificate))  # trust the test's own CA
            return await asyncio.gather(
                *(api.post_to_connection(connection_id=f"ok-{i}", data=b"{}") for i in range(20))
            )

    assert run(main()) == [200] * 20


def test_a_bad_endpoint_is_refused_up_front():
    with pytest.raises(ValueError, match="http"):
        ManagementApi("wss://example.com/x", lambda: CREDENTIALS, REGION)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path
