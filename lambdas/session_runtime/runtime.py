"""The clients and services a handler needs, built once per cold start from the declared settings.

Every AWS client gets the timeouts and retries of `timeouts.AWS_CLIENT_CONFIG` (why those: see there).

Local mode needs no special case here: boto3 honours AWS_ENDPOINT_URL_* for DynamoDB and S3, and the
management API endpoint is the WS_CALLBACK_URL setting wherever it points.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any

import boto3
from botocore.config import Config

from session_runtime.auth import TokenVerifier
from session_schema.cursor import CursorSeal
from session_schema.settings import Settings, load_settings
from session_store.store import SessionStore

from .budget import ActionBudget, Limits
from .conflation import Conflation, Scheduler, SqsScheduler
from .fanout import Fanout, Strikes
from .management_api import ManagementApi
from .shards import ShardDispatcher
from .timeouts import AWS_CLIENT_CONFIG


@dataclass
class Runtime:
    settings: Settings
    _clients: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def store(self) -> SessionStore:
        return SessionStore(
            self.settings.table_name,
            client=boto3.client("dynamodb", config=AWS_CLIENT_CONFIG),
            stream_window_seconds=self.settings.stream_window_seconds,
            stream_max_events=self.settings.stream_max_events,
            cursor_seal=self.cursor_seal,
        )

    @cached_property
    def secrets(self) -> Any:
        return boto3.client("secretsmanager", config=AWS_CLIENT_CONFIG)

    @cached_property
    def cursor_seal(self) -> CursorSeal:
        """Reads its secret once per cold start, when the first cursor is sealed or opened."""
        secret_id = self.settings.cursor_key_secret
        return CursorSeal(lambda: str(self.secrets.get_secret_value(SecretId=secret_id)["SecretString"]))

    @cached_property
    def management(self) -> Any:
        """boto3's management API client, for the odd call (GetConnection); posts take `connections`."""
        return boto3.client(
            "apigatewaymanagementapi", endpoint_url=self.settings.ws_callback_url, config=AWS_CLIENT_CONFIG
        )

    @cached_property
    def connections(self) -> ManagementApi:
        """The lean post path (session_runtime/management_api.py): one keep-alive connection per call slot."""
        return ManagementApi.from_botocore(
            self.settings.ws_callback_url,
            connections=self.settings.fanout_concurrency,
            timeout=self.settings.fanout_post_timeout_ms / 1000,
            connect_timeout=self.settings.fanout_post_timeout_ms / 1000,  # past the first SYN retransmit (1 s)
        )

    @cached_property
    def fanout(self) -> Fanout:
        strikes = Strikes(self.settings.fanout_strikes_to_close)
        settings = self.settings
        dispatcher = None
        if settings.fanout_worker_function:
            dispatcher = ShardDispatcher(
                settings.fanout_worker_function,
                settings.fanout_shard_threshold,
                client=lambda: boto3.client("lambda", config=AWS_CLIENT_CONFIG),
            )
        concurrency = settings.fanout_concurrency
        return Fanout(
            self.store,
            self.connections,
            concurrency=concurrency,
            strikes=strikes,
            dispatcher=dispatcher,
            handshake_window_ms=settings.handshake_window_seconds * 1000,
        )

    @cached_property
    def notice_scheduler(self) -> Scheduler | None:
        """Where trailing notices wait out their second (the notice queue); None when the deployment has none."""
        url = self.settings.notice_queue_url
        if not url:
            return None
        client = self._client("sqs")
        return SqsScheduler(url, client)

    def _client(self, service: str) -> Callable[[], Any]:
        """A boto3 client made on first use and kept."""

        def made() -> Any:
            if service not in self._clients:
                self._clients[service] = boto3.client(service, config=AWS_CLIENT_CONFIG)
            return self._clients[service]

        return made

    @cached_property
    def notices(self) -> Conflation:
        """Conflated presence and reaction notices (session_runtime/conflation.py), each kind sent by its module."""
        from . import presence, reactions

        members_max = self.settings.presence_members_max
        return Conflation(
            self.store,
            self.notice_scheduler,
            {
                "members": lambda sid, pending, since, now: presence.send_notice(
                    self.fanout, sid, pending, members_max
                ),
                "reactions": lambda sid, pending, since, now: reactions.send_notice(
                    self.fanout, sid, pending, since, now
                ),
            },
        )

    @cached_property
    def s3(self) -> Any:
        return boto3.client("s3", config=AWS_CLIENT_CONFIG.merge(Config(signature_version="s3v4")))

    @cached_property
    def action_budget(self) -> ActionBudget:
        """Per execution environment (this process), as budget.py explains."""
        settings = self.settings
        return ActionBudget(
            Limits(
                settings.action_burst,
                settings.action_rate_per_second,
                settings.read_burst,
                settings.read_rate_per_second,
            )
        )

    @cached_property
    def verifier(self) -> TokenVerifier:
        return TokenVerifier.from_settings(self.settings)


class RuntimeProvider:
    """The runtime every handler asks for: built once per process (per Lambda cold start) from the settings, or
    the one a test put in place with `override` (a test never mutates the process's own runtime)."""

    def __init__(self, build: Callable[[], Runtime]) -> None:
        self._build = build
        self._built: Runtime | None = None
        self._overrides: list[Runtime] = []

    def __call__(self) -> Runtime:
        if self._overrides:
            return self._overrides[-1]
        if self._built is None:
            self._built = self._build()
        return self._built

    @contextmanager
    def override(self, runtime: Runtime) -> Iterator[Runtime]:
        """Handlers get `runtime` inside the block (nested overrides stack)."""
        self._overrides.append(runtime)
        try:
            yield runtime
        finally:
            self._overrides.remove(runtime)

    def rebuild(self) -> None:
        """Forget the built runtime: the next call builds one from the settings as they are now."""
        self._built = None


def build_runtime() -> Runtime:
    runtime = Runtime(load_settings())
    start_up_is_over()
    return runtime


@cache  # once per process: a test that builds runtimes again freezes nothing more
def start_up_is_over() -> None:
    """Leave what the cold start made out of every later garbage collection (`gc.freeze`).

    A warm environment's imports, models and clients live as long as it does, yet each full collection walked them
    all: about 100,000 objects, a pause of 40 to 100 ms every second or two in the middle of a fan-out to 2,000
    listeners (bench/fanout.py), each paused broadcast late for every listener not yet reached. Frozen, a full
    collection walks only what invocations made since. Reference counting still frees frozen objects; only a
    reference cycle among them would stay, and start-up's objects are not garbage. Called once the first invocation
    builds the runtime: every handler module and its imports are loaded by then."""
    gc.freeze()


get_runtime = RuntimeProvider(build_runtime)
