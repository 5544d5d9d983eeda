"""The lean post path: `post_to_connection` and `delete_connection`, the one call a fan-out makes N times.

boto3 spends most of a post in its request machinery (bench/fanout.py `--cpu-only`, docs/figures.md), not in
the network or the signature. Here a post is a SigV4 signature
(session_runtime/sigv4.py, byte-identical to botocore's) and a few hundred bytes written to one of a few
persistent HTTP/1.1 keep-alive connections from asyncio; httptools (llhttp, C) parses the answer (h11,
pure Python, was many times slower per answer). Everything else stays on boto3.

- credentials come from botocore's own chain (`get_frozen_credentials()` per request, so rotated or
  refreshed credentials are picked up, as in Lambda);
- at most `connections` requests are in flight, one per connection (no pipelining: a slow answer holds
  back only its own request); connections are kept per event loop and reused across invocations;
- every call is bounded by `timeout` (connect, write, read and retries together), connecting by
  `connect_timeout`; a request on a reused connection the server closed before answering is sent once
  more on a new one (it was not processed);
- 429 (throttled, or a client whose buffer is full) and 5xx answers are retried with jittered
  exponential backoff while the time allows; the last status is returned. 410 Gone is returned as is:
  the caller unregisters the connection.
"""

from __future__ import annotations

import asyncio
import random
import re
import ssl
import weakref
from collections.abc import Callable
from functools import cached_property, lru_cache
from urllib.parse import quote, urlsplit

import httptools

from .sigv4 import Credentials, Signer, amz_date

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
_BACKOFF_BASE_SECONDS = 0.025
_EXECUTE_API_REGION = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com", re.IGNORECASE)


def host_of(endpoint_url: str) -> str:
    """The Host header for an endpoint: lower case, without a default port (as botocore signs it)."""
    parts = urlsplit(endpoint_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def connections_path(endpoint_url: str) -> str:
    """`<stage path>/@connections/`, what every connection's path starts with."""
    return f"{urlsplit(endpoint_url).path.rstrip('/')}/@connections/"


def connection_path(endpoint_url: str, connection_id: str) -> str:
    """`<stage path>/@connections/<id>`, the ID percent-encoded as boto3 renders the URI label."""
    return connections_path(endpoint_url) + _quoted_id(connection_id)


@lru_cache(maxsize=65_536)
def _quoted_id(connection_id: str) -> str:
    """Quoted once per connection a warm environment posts to (API Gateway's IDs hold `=`, `+` and `/`), not
    once per post."""
    return quote(connection_id, safe="-._~")


def region_of(endpoint_url: str, fallback: str | None) -> str:
    match = _EXECUTE_API_REGION.search(urlsplit(endpoint_url).netloc)
    return match.group(1).lower() if match else (fallback or "us-east-1")


def botocore_credentials() -> Callable[[], Credentials]:
    """The credentials boto3 would use (environment, profile, container, ...), frozen at each call."""
    import botocore.session

    source = botocore.session.get_session().get_credentials()
    if source is None:
        raise RuntimeError("no AWS credentials for the management API")

    kept: tuple[tuple[str, str, str | None], Credentials] | None = None

    def frozen() -> Credentials:
        nonlocal kept
        current = source.get_frozen_credentials()  # refreshed by botocore when they near their expiry
        if kept is None or kept[0] != current:  # a ReadOnlyCredentials is a named tuple
            kept = (tuple(current), Credentials(current.access_key, current.secret_key, current.token))
        return kept[1]

    return frozen


class _Stale(ConnectionError):
    """A reused connection was closed by the server before any byte of the answer: safe to resend."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection carrying one request at a time; httptools calls the on_* methods."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.used = False
        self._waiter: asyncio.Future[int] | None = None
        self._answered = False
        self._keep_alive = True
        self._deadline = 0.0  # loop time by which the request in flight must be answered
        self._watchdog: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._answered = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(ConnectionError(f"bad answer from the management API: {error}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(_Stale() if self.used and not self._answered else ConnectionError("connection closed"))

    # -- httptools callbacks ------------------------------------------------------------------------------

    def on_message_complete(self) -> None:
        self._keep_alive = self.parser.should_keep_alive()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(self.parser.get_status_code())

    # -- use ----------------------------------------------------------------------------------------------

    def _fail(self, error: Exception) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Have the watchdog fire by the request's deadline. One timer per connection, moved on when it fires,
        not one per request: a keep-alive connection answers many requests within one timeout."""
        watchdog = self._watchdog
        if watchdog is not None:
            if watchdog.when() <= self._deadline:
                return
            watchdog.cancel()
        self._watchdog = loop.call_at(self._deadline, self._check_deadline, loop)

    def _check_deadline(self, loop: asyncio.AbstractEventLoop) -> None:
        self._watchdog = None
        waiter = self._waiter
        if self.closed or waiter is None or waiter.done():
            return  # idle: the next request arms it again
        if loop.time() >= self._deadline:
            self._fail(TimeoutError("no answer from the management API in time"))
        else:
            self._watch(loop)  # armed for an earlier request: the one in flight has until its own deadline

    async def exchange(self, request: bytes, timeout: float) -> int:
        """Send one request, return its answer's status; the connection is closed on any failure."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        self._answered = False
        self._deadline = loop.time() + timeout
        self._watch(loop)
        self.transport.write(request)
        try:
            status: int = await waiter
        except BaseException:
            self.close()
            raise
        finally:
            self.used = True
        if not self._keep_alive:
            self.close()
        return status

    def close(self) -> None:
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self.transport is not None:
            self.transport.abort()


class _Pool:
    """The connections of one event loop: at most `size`, idle ones reused most-recent first."""

    def __init__(self, api: ManagementApi) -> None:
        self.api = api
        self.idle: list[_Connection] = []
        self.slots = asyncio.Semaphore(api.connections)

    async def _open(self, timeout: float) -> _Connection:
        api = self.api
        loop = asyncio.get_running_loop()
        opening = loop.create_connection(
            _Connection, api.host_name, api.port, ssl=api.ssl_context, server_hostname=api.server_hostname
        )
        _, connection = await asyncio.wait_for(opening, min(timeout, api.connect_timeout))
        return connection

    async def request(self, request: bytes, timeout: float) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self.slots:
            while self.idle:
                connection = self.idle.pop()
                if connection.closed:
                    continue
                try:
                    status = await connection.exchange(request, deadline - loop.time())
                except _Stale:
                    break  # the server dropped an idle connection: fall through to a new one
                self._keep(connection)
                return status
            connection = await self._open(deadline - loop.time())
            status = await connection.exchange(request, max(0.0, deadline - loop.time()))
            self._keep(connection)
            return status

    def _keep(self, connection: _Connection) -> None:
        if not connection.closed:
            self.idle.append(connection)


class ManagementApi:
    """The API Gateway management API for one stage (its https callback URL, or the local stack's http one)."""

    def __init__(
        self,
        endpoint_url: str,
        credentials: Callable[[], Credentials],
        region: str,
        *,
        connections: int = 16,
        timeout: float = 2.0,
        connect_timeout: float = 1.0,
        max_attempts: int = 4,
    ) -> None:
        parts = urlsplit(endpoint_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) endpoint: {endpoint_url!r}")
        self.endpoint_url = endpoint_url
        self.host_name = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.secure = parts.scheme == "https"
        self.host = host_of(endpoint_url)
        self._connections_path = connections_path(endpoint_url)
        self.credentials = credentials
        self.signer = Signer(region)
        self.connections = connections
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_attempts = max_attempts
        self._pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Pool] = weakref.WeakKeyDictionary()

    @classmethod
    def from_botocore(cls, endpoint_url: str, **options: float | int) -> ManagementApi:
        """Credentials and region as boto3 finds them (the region of an execute-api URL wins)."""
        import botocore.session

        region = region_of(endpoint_url, botocore.session.get_session().get_config_variable("region"))
        return cls(endpoint_url, botocore_credentials(), region, **options)  # type: ignore[arg-type]

    @cached_property
    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.secure:
            return None
        from botocore.httpsession import get_cert_path

        return ssl.create_default_context(cafile=get_cert_path(True))

    @property
    def server_hostname(self) -> str | None:
        return self.host_name if self.secure else None

    # -- the two operations (boto3's names, so the IAM-usage test maps them to their HTTP methods) ---------

    async def post_to_connection(self, *, connection_id: str, data: bytes) -> int:
        """POST @connections/{id}: 200 sent, 410 gone, otherwise the last status after retries."""
        return await self._call("POST", connection_id, data)

    async def delete_connection(self, *, connection_id: str) -> int:
        """DELETE @connections/{id}: 204 closing, 410 gone."""
        return await self._call("DELETE", connection_id, b"")

    # -- one call -----------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: bytes) -> bytes:
        signed = self.signer.headers(method, self.host, path, body, self.credentials(), amz_date())
        head = "".join([f"{name}: {value}\r\n" for name, value in signed])
        return f"{method} {path} HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body

    def _pool(self) -> _Pool:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            pool = self._pools[loop] = _Pool(self)
        return pool

    async def _call(self, method: str, connection_id: str, body: bytes) -> int:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        path = self._connections_path + _quoted_id(connection_id)
        pool = self._pool()
        attempt = 0
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"{method} @connections took longer than {self.timeout} s")
            # Signed per attempt: X-Amz-Date must be recent and credentials may have been refreshed.
            status = await pool.request(self._request(method, path, body), left)
            attempt += 1
            if status not in RETRIED_STATUSES or attempt >= self.max_attempts:
                return status
            pause = random.uniform(0, _BACKOFF_BASE_SECONDS * 2**attempt)  # noqa: S311 - jitter, not a secret
            if loop.time() + pause >= deadline:
                return status  # no time left for another attempt: the caller sees the throttle
            await asyncio.sleep(pause)
