"""The whole system on one machine: `LocalStack(...).start()` (used by `python -m local serve` and tests).

Start order: bind the HTTP port (the issuer URL and the callback URL contain it), start the embedded
DynamoDB/S3 and create the table and bucket, start every function's worker processes with the handlers'
environment (built by `stack_environment`, exactly as the CDK stack builds it; this process's own
`os.environ` is left alone) while the WebSocket gateway starts, wait for their imports (the cold starts,
all at once), then serve. `stop()` closes the WebSockets (running `$disconnect`), stops the sweep, the
HTTP server, every worker process and the embedded services.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from session_schema.functions import (
    CONNECTION_FUNCTION,
    FANOUT_WORKER_FUNCTION,
    FUNCTIONS_BY_NAME,
    HTTP_FUNCTION,
    LIFECYCLE_EVENTS_FUNCTION,
    SWEEP_FUNCTION,
    UPLOAD_FUNCTION,
)
from session_schema.lifecycle import STREAM_FILTER_PATTERNS, STREAM_VIEW_TYPE
from session_schema.settings import stack_environment

from . import dynamodb, secretsmanager
from .apigw import (
    CONNECTIONS_PREFIX,
    ISSUER_PREFIX,
    ConnectionRegistry,
    GatewayConfig,
    HttpGateway,
    RouteTable,
    WsGateway,
    bind_management_socket,
)
from .aws_limits import AwsLimits, TokenBucket
from .cognito import DEFAULT_AUDIENCE, LocalIssuer, record_served
from .dynamodb_streams import StreamPoller, stream_arn_of
from .eventbridge import LocalEventBus
from .iam import PUBLISHER_ROLE, CredentialStore
from .lambda_service import (
    LAMBDA_PREFIX,
    THROTTLE_WAIT_SECONDS,
    Functions,
    HandlerSpec,
    LambdaApi,
    PoolSettings,
    RegionConcurrency,
    worker_environment,
)
from .s3 import NOTIFY_ENVIRONMENT
from .sqs import DelayQueue, SqsEndpoint

logger = logging.getLogger("local.stack")

TABLE_NAME = "live-sessions-local"
BUCKET_NAME = "live-sessions-artifacts-local"
EVENT_BUS_NAME = "live-sessions-local"
NOTICE_QUEUE_NAME = "live-sessions-notices-local"  # the trailing presence and reaction notices (local/sqs/)
DISCONNECT_QUEUE_NAME = "live-sessions-disconnects-local"  # the WebSocket gateway's `$disconnect`s (local/sqs/)
METRICS_NAMESPACE = "LiveSessionsLocal"
DEFAULT_STATE_DIR = ".local-state"


def public_host(host: str) -> str:
    """The host clients use to reach a server bound to `host` (a wildcard bind is reached on loopback)."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def issuer_url(host: str, http_port: int) -> str:
    """The local issuer's URL: `serve` and `token` must compute the same string, or tokens are refused."""
    return f"http://{public_host(host)}:{http_port}{ISSUER_PREFIX}"


def callback_url(host: str, port: int) -> str:
    """WS_CALLBACK_URL: the management API client appends `/@connections/{id}` to this path."""
    return f"http://{public_host(host)}:{port}{CONNECTIONS_PREFIX}"


@dataclass(frozen=True)
class StackUrls:
    http: str
    ws: str
    callback: str
    issuer: str
    dynamodb: str
    s3: str


class LocalStack:
    """Both APIs, the embedded AWS services, the issuer and the sweep in this process; each function in
    its own worker processes (local/lambda_service/lambda_pools.py).

    `http_port=0` / `ws_port=0` pick free ports (tests); `state_dir=None` uses a temporary directory
    that `stop()` removes. Handlers may be given as callables (gateway tests: run in this process) instead
    of dotted names. `concurrency` caps every function's pool instead of its declared reserved
    concurrency; `function_timeout` replaces every declared timeout and `worker_output` (a file
    descriptor) receives the handlers' logs instead of this process's stdout/stderr (tests);
    `moto_patches` are functions (dotted names) the embedded moto's process calls before serving.
    The table's stream feeds the lifecycle events function (local/dynamodb_streams/), which puts on the
    stack's bus (local/eventbridge/): `events()` lists what was put; `webhook_url` receives each as an
    EventBridge API destination would.
    `aws_limits` (None: limitless, the default) makes the stack enforce AWS's quotas, scaled
    (local/aws_limits.py): the embedded DynamoDB throttles hot partitions and items, the WebSocket gateway
    refuses new connections past the account's rate, and Lambda throttles past the Region's concurrency at once.
    """

    def __init__(
        self,
        *,
        http_port: int = 3000,
        ws_port: int = 3001,
        host: str = "127.0.0.1",
        state_dir: str | os.PathLike[str] | None = DEFAULT_STATE_DIR,
        dynamodb_endpoint: str | None = None,
        sweep_interval: float | None = 60,
        idle_timeout: float = 600,
        max_connection_seconds: float = 7200,
        handlers: HandlerSpec | None = None,
        settings_overrides: Mapping[str, str] | None = None,
        table_name: str = TABLE_NAME,
        bucket_name: str = BUCKET_NAME,
        concurrency: int | None = None,
        function_timeout: float | None = None,
        throttle_wait: float = THROTTLE_WAIT_SECONDS,
        worker_output: int | None = None,
        moto_patches: tuple[str, ...] = (),
        dev_logs: bool = False,
        webhook_url: str | None = None,
        aws_limits: AwsLimits | None = None,
    ) -> None:
        self.host = host
        self.http_port = http_port
        self.ws_port = ws_port
        self._temp_state = state_dir is None
        self.state_dir = Path(tempfile.mkdtemp(prefix="local-stack-")) if state_dir is None else Path(state_dir)
        self.dynamodb_endpoint = dynamodb_endpoint
        self.sweep_interval = sweep_interval
        self.idle_timeout = idle_timeout
        self.max_connection_seconds = max_connection_seconds
        self.handlers = handlers or HandlerSpec()
        self.settings_overrides = dict(settings_overrides or {})
        self.table_name = table_name
        self.bucket_name = bucket_name
        self.moto_patches = moto_patches
        self.aws_limits = aws_limits
        region = RegionConcurrency(aws_limits.region_concurrency) if aws_limits else None
        # With AWS's limits Lambda's own behaviour: a throttle is immediate (no local queueing for a worker).
        wait = 0.0 if aws_limits else throttle_wait
        self.pool_settings = PoolSettings(concurrency, function_timeout, wait, worker_output, region)
        self.dev_logs = dev_logs
        self.webhook_url = webhook_url

        self.urls: StackUrls | None = None
        self.issuer: LocalIssuer | None = None
        # What producers sign the IAM route with (`python -m local credentials`); PUBLISHER_ROLE is granted.
        self.credentials = CredentialStore(self.state_dir)
        self.registry = ConnectionRegistry()
        self.functions: Functions | None = None
        self.lambda_api: LambdaApi | None = None
        self.handler_status: dict[str, str | None] = {}
        self._http: HttpGateway | None = None
        self._ws: WsGateway | None = None
        self._moto: dynamodb.EmbeddedMoto | None = None
        self.bus: LocalEventBus | None = None
        self.stream_poller: StreamPoller | None = None
        self._sqs: SqsEndpoint | None = None
        self.notice_queue: DelayQueue | None = None
        self.disconnect_queue: DelayQueue | None = None
        self.dynamodb_access = dynamodb.dynamodb_access(None)
        self._sweeper: threading.Thread | None = None
        self._stopping = threading.Event()
        self._started = False

    # -- lifecycle -----------------------------------------------------------------------------------------

    def start(self) -> StackUrls:
        if self._started:
            raise RuntimeError("this LocalStack is already started")
        self._started = True
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> StackUrls:
        self._http = HttpGateway(self.host, self.http_port)
        http_port = self._http.port
        issuer = issuer_url(self.host, http_port)
        self.issuer = LocalIssuer.load_or_create(self.state_dir, issuer, DEFAULT_AUDIENCE)
        record_served(self.state_dir, self.issuer)  # `python -m local token` mints for this port

        # Which credentials the handlers sign DynamoDB requests with (their environment, below).
        self.dynamodb_access = access = dynamodb.dynamodb_access(self.dynamodb_endpoint)
        # The embedded moto and every function's template start at once: their imports run in parallel.
        # S3's event notification: each stored object is told to the upload function through the Invoke API.
        invoke = f"http://{public_host(self.host)}:{http_port}{LAMBDA_PREFIX}/2015-03-31/functions/{UPLOAD_FUNCTION}"
        notify = {NOTIFY_ENVIRONMENT: json.dumps({"bucket": self.bucket_name, "invokeUrl": f"{invoke}/invocations"})}
        limits = self.aws_limits.to_environment() if self.aws_limits else {}
        self._moto = dynamodb.EmbeddedMoto(patches=self.moto_patches, environment=notify | limits)
        s3_endpoint = self._moto.start()
        # Another DynamoDB (e.g. DynamoDB Local), or the embedded one; S3 is always the embedded moto.
        ddb_endpoint = self.dynamodb_endpoint or s3_endpoint
        # The @connections endpoint is served on the WebSocket gateway's loop (local/apigw/management_endpoint.py);
        # its port is bound now because the workers' environment (WS_CALLBACK_URL) is built before it starts.
        management_socket = bind_management_socket(self.host)
        callback = callback_url(self.host, management_socket.getsockname()[1])
        self.bus = LocalEventBus(
            self.state_dir, EVENT_BUS_NAME, host=public_host(self.host), region=access.region, webhook=self.webhook_url
        )
        self.bus.start()
        self.notice_queue, self.disconnect_queue = self._start_queues(access.region)
        environment = self.handler_environment(
            callback=callback, issuer=issuer, ddb_endpoint=ddb_endpoint, s3_endpoint=s3_endpoint
        )
        environment["AWS_ENDPOINT_URL_LAMBDA"] = f"http://{public_host(self.host)}:{http_port}{LAMBDA_PREFIX}"
        environment["AWS_ENDPOINT_URL_EVENTBRIDGE"] = self.bus.url
        environment["AWS_ENDPOINT_URL_SQS"] = f"http://{public_host(self.host)}:{self._sqs.port}"
        self.functions = functions = Functions(self.handlers, self._worker_environment(environment), self.pool_settings)
        functions.spawn()
        self._moto.wait_ready()
        created = dynamodb.ensure_table(ddb_endpoint, self.table_name, access, stream_view_type=STREAM_VIEW_TYPE)
        logger.info(
            "table %s %s at %s (%s, %s)",
            self.table_name,
            "created" if created else "found",
            ddb_endpoint,
            "your AWS credentials" if access.user_credentials else "local credentials",
            access.region,
        )
        if self.aws_limits is not None:
            logger.info("AWS limits x%g: %s", self.aws_limits.scale, self.aws_limits.describe())
            if self.dynamodb_endpoint:
                logger.warning(
                    "--aws-limits: %s throttles as it does; only the embedded DynamoDB is limited here", ddb_endpoint
                )
        dynamodb.ensure_bucket(s3_endpoint, self.bucket_name, access.region)
        # One secret per state directory: cursors survive a restart (handlers read it on their first page).
        secretsmanager.ensure_cursor_secret(s3_endpoint, secretsmanager.cursor_secret(self.state_dir), access.region)

        self._ws = WsGateway(
            self.host,
            self.ws_port,
            registry=self.registry,
            executor=functions.executor,
            invoke=lambda event: functions.invoke(CONNECTION_FUNCTION, event),
            disconnects=self.disconnect_queue,
            idle_timeout=self.idle_timeout,
            max_connection_seconds=self.max_connection_seconds,
            management_socket=management_socket,
            connect_rate=TokenBucket(self.aws_limits.new_connections_per_second) if self.aws_limits else None,
        )
        ws_port = self._ws.start()
        self.handler_status = functions.start()
        self.stream_poller = self._start_stream_poller(ddb_endpoint, access)

        # Its queue's failure records and counts (the dead-letter queue's stand-in) stay readable on the stack.
        self.lambda_api = LambdaApi(functions.invoke, lambda: set(functions.functions), functions.executor)
        self._http.start(
            GatewayConfig(
                routes=RouteTable(),
                invoke=lambda event: functions.invoke(HTTP_FUNCTION, event),
                jwks=self.issuer.jwks,
                management=self.registry,
                console_ws_url=f"ws://{public_host(self.host)}:{ws_port}",
                lambda_api=self.lambda_api,
                signers=self.credentials.by_access_key,
                region=dynamodb.REGION,  # what `python -m local credentials` prints
            )
        )
        if self.sweep_interval and SWEEP_FUNCTION in functions:
            self._sweeper = threading.Thread(target=self._sweep_loop, name="sweep", daemon=True)
            self._sweeper.start()

        host = public_host(self.host)
        self.urls = StackUrls(
            http=f"http://{host}:{http_port}",
            ws=f"ws://{host}:{ws_port}",
            callback=callback,
            issuer=issuer,
            dynamodb=ddb_endpoint,
            s3=s3_endpoint,
        )
        return self.urls

    def stop(self) -> None:
        """Stop everything this stack started; safe to call more than once and after a failed start."""
        self._stopping.set()
        if self._ws is not None:
            self._ws.stop()  # closes every connection and queues their $disconnect
            self._ws = None
        if self.disconnect_queue is not None and not self.disconnect_queue.drain(timeout=35):
            logger.warning("some $disconnects were still queued at the stop")
        if self._sweeper is not None:
            self._sweeper.join(timeout=35)
            self._sweeper = None
        if self.stream_poller is not None:
            self.stream_poller.stop()  # after the $disconnects above: their changes are announced too
            self.stream_poller = None
        if self._http is not None:
            self._http.stop()
            self._http = None
        if self.functions is not None:
            self.functions.stop()  # last: the $disconnects above ran on its workers
            self.functions = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self.bus is not None:
            self.bus.stop()
            self.bus = None
        if self._sqs is not None:
            self._sqs.stop()
            self._sqs = None
        if self._temp_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers for tests and the CLI ---------------------------------------------------------------------

    def mint(self, user_id: str, **kwargs: Any) -> str:
        """A token the running stack accepts (LocalIssuer.mint's keyword arguments apply)."""
        if self.issuer is None:
            raise RuntimeError("start the stack first")
        return self.issuer.mint(user_id, **kwargs)

    def sever_connection(self, connection_id: str) -> bool:
        """Make a connection vanish without a close frame or `$disconnect` (a client whose network died)."""
        return self.registry.sever(connection_id)

    def events(self) -> list[dict[str, Any]]:
        """The lifecycle events put on the stack's bus so far, in order (as a rule's target receives them)."""
        if self.bus is None:
            raise RuntimeError("start the stack first")
        return self.bus.events()

    def live_connections(self) -> list[str]:
        return self.registry.live_ids()

    def run_sweep(self) -> Any:
        """One sweep now, in the calling thread (tests)."""
        if self.functions is None or SWEEP_FUNCTION not in self.functions:
            raise RuntimeError("no sweep handler")
        return self.functions.invoke(SWEEP_FUNCTION, scheduled_event())

    # -- the handlers' environment -------------------------------------------------------------------------

    def handler_environment(self, *, callback: str, issuer: str, ddb_endpoint: str, s3_endpoint: str) -> dict[str, str]:
        env = stack_environment(
            {
                "TABLE_NAME": self.table_name,
                "ARTIFACTS_BUCKET": self.bucket_name,
                "WS_CALLBACK_URL": callback,
                "JWT_ISSUER": issuer,
                "JWT_AUDIENCE": DEFAULT_AUDIENCE,
                "CURSOR_KEY_SECRET": secretsmanager.SECRET_NAME,
                "EVENT_BUS_NAME": EVENT_BUS_NAME,
            },
            # The worker is invoked by its declared name here (local/lambda_service/invoke_api.py), as by its
            # name on AWS.
            {
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "FANOUT_WORKER_FUNCTION": FANOUT_WORKER_FUNCTION,
                "NOTICE_QUEUE_URL": self.notice_queue_url,
                # The role `python -m local credentials` stands for by default, as -c publisherRoleArns grants one.
                "PUBLISHER_ROLE_ARNS": self.credentials.for_role(PUBLISHER_ROLE).role_arn,
                **self.settings_overrides,
            },
        )
        env.update(
            AWS_ENDPOINT_URL_DYNAMODB=ddb_endpoint,
            AWS_ENDPOINT_URL_S3=s3_endpoint,
            AWS_ENDPOINT_URL_SECRETS_MANAGER=s3_endpoint,  # the embedded moto serves Secrets Manager too
            AWS_REGION=self.dynamodb_access.region,
            AWS_DEFAULT_REGION=self.dynamodb_access.region,
            POWERTOOLS_TRACE_DISABLED="true",
            POWERTOOLS_METRICS_DISABLED="true",  # no EMF blobs on stdout locally
            POWERTOOLS_DEV="true" if self.dev_logs else "false",
        )
        if not self.dynamodb_access.user_credentials:
            # Every local endpoint accepts these; the developer's real credentials stay out of it. With
            # a DynamoDB that needs real ones, the developer's pass through untouched (the embedded S3
            # accepts those too).
            env.update(
                AWS_ACCESS_KEY_ID=dynamodb.FAKE_CREDENTIALS["aws_access_key_id"],
                AWS_SECRET_ACCESS_KEY=dynamodb.FAKE_CREDENTIALS["aws_secret_access_key"],
            )
        return env

    # Variables that would send a handler's AWS calls somewhere else than the local services.
    _SCRUBBED_ENDPOINTS = ("AWS_ENDPOINT_URL",)
    # ...or sign them with the developer's credentials instead of the fake ones.
    _SCRUBBED_CREDENTIALS = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_DEFAULT_PROFILE")

    def _worker_environment(self, handler_environment: Mapping[str, str]) -> dict[str, str]:
        scrubbed = self._SCRUBBED_ENDPOINTS
        if not self.dynamodb_access.user_credentials:
            scrubbed += self._SCRUBBED_CREDENTIALS
        return worker_environment(handler_environment, scrubbed)

    def _start_queues(self, region: str) -> tuple[DelayQueue, DelayQueue]:
        """The notice queue and the disconnect queue (local/sqs/), each with its event source mapping: each message,
        after its delay, to its function's own execution environments, as on AWS: the notice queue's to the fan-out
        worker, the disconnect queue's to the connection function (as its declared `queue_source` says)."""

        def invoke_of(name: str) -> Callable[[Mapping[str, Any]], Any]:
            def invoke(event: Mapping[str, Any]) -> Any:
                if self.functions is None:
                    raise RuntimeError("the stack is stopping")
                return self.functions.invoke(name, event)

            return invoke

        def arn(name: str) -> str:
            return f"arn:aws:sqs:{region}:000000000000:{name}"

        notices = DelayQueue(arn(NOTICE_QUEUE_NAME), invoke_of(FANOUT_WORKER_FUNCTION))
        source = FUNCTIONS_BY_NAME[CONNECTION_FUNCTION].queue_source
        assert source is not None, "the connection function consumes the disconnect queue"
        disconnects = DelayQueue(
            arn(DISCONNECT_QUEUE_NAME),
            invoke_of(CONNECTION_FUNCTION),
            max_receives=source.max_receive_count,
            max_concurrency=source.maximum_concurrency,
        )
        self._sqs = SqsEndpoint(self.host, {NOTICE_QUEUE_NAME: notices, DISCONNECT_QUEUE_NAME: disconnects})
        self._sqs.start()
        return notices, disconnects

    @property
    def notice_queue_url(self) -> str:
        port = self._sqs.port if self._sqs is not None else 0
        return f"http://{public_host(self.host)}:{port}/000000000000/{NOTICE_QUEUE_NAME}"

    def _start_stream_poller(self, ddb_endpoint: str, access: dynamodb.DynamoDbAccess) -> StreamPoller | None:
        """The event source mapping's stand-in: the table's stream into the lifecycle events function."""
        functions = self.functions
        source = FUNCTIONS_BY_NAME[LIFECYCLE_EVENTS_FUNCTION].stream_source
        if functions is None or source is None or LIFECYCLE_EVENTS_FUNCTION not in functions:
            return None
        try:
            stream_arn = stream_arn_of(dynamodb.client("dynamodb", ddb_endpoint, access), self.table_name)
            streams = dynamodb.client("dynamodbstreams", ddb_endpoint, access)
            poller = StreamPoller(
                streams,
                stream_arn,
                lambda event: functions.invoke(LIFECYCLE_EVENTS_FUNCTION, event),
                source,
                STREAM_FILTER_PATTERNS,
            )
            poller.start()
        except Exception as error:  # noqa: BLE001 - a DynamoDB without streams: the stack serves, without events
            logger.warning("lifecycle events are off: the table's stream cannot be read (%r)", error)
            return None
        return poller

    def _sweep_loop(self) -> None:
        assert self.sweep_interval
        while not self._stopping.wait(self.sweep_interval):
            functions = self.functions
            if functions is None:
                return
            started = time.monotonic()
            try:
                result = functions.invoke(SWEEP_FUNCTION, scheduled_event())
                logger.info("sweep done in %.0f ms: %s", (time.monotonic() - started) * 1000, _short(result))
            except Exception as error:  # noqa: BLE001 - a failed sweep is retried at the next interval
                logger.error("sweep failed: %r", error)


def scheduled_event() -> dict[str, Any]:
    """The EventBridge scheduled event the deployed sweep receives."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": now,
        "region": dynamodb.REGION,
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/local-sweep"],
        "detail": {},
    }


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."
