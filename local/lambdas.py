"""Running the real handlers in-process, the way Lambda would: a context object, one call per event.

Handlers are named by dotted path (`http_session_handler.app.handler`) and imported lazily, after the
stack has put the handlers' environment in `os.environ` (module-level code reads settings at import).
Each invocation runs in a worker thread, so the gateways' event loop never blocks on a handler.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("local.lambdas")

Handler = Callable[[Any, Any], Any]

HTTP_HANDLER = "http_session_handler.app.handler"
CONNECTION_HANDLER = "connection_handler.app.handler"
SWEEP_HANDLER = "connection_handler.sweep.handler"

# Lambda's limit for an API Gateway integration is 29 s; a local invocation gets the same budget.
TIMEOUT_SECONDS = 29.0


class HandlerUnavailable(RuntimeError):
    """The handler's module does not exist (yet) or fails to import."""


class LambdaContext:
    """The attributes and method Powertools and handlers read from Lambda's context object."""

    def __init__(self, function_name: str, timeout_seconds: float = TIMEOUT_SECONDS, memory_mb: int = 512) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class HandlerSpec:
    """Which function handles what: a dotted name (imported lazily) or a callable (tests)."""

    http: str | Handler = HTTP_HANDLER
    connection: str | Handler = CONNECTION_HANDLER
    sweep: str | Handler | None = SWEEP_HANDLER


def _function_name(target: str | Handler) -> str:
    if isinstance(target, str):
        return target.rsplit(".", 1)[0].replace(".", "-")
    return getattr(target, "__name__", "handler")


class Invoker:
    """Resolves handlers and runs them on a bounded thread pool."""

    def __init__(self, spec: HandlerSpec, max_workers: int = 32) -> None:
        from .threaded_metrics import make_metrics_thread_safe

        make_metrics_thread_safe()  # many invocations share this process's Powertools metric set
        self.spec = spec
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="lambda")
        self._resolved: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._reported: set[str] = set()

    def resolve(self, target: str | Handler) -> Handler:
        if not isinstance(target, str):
            return target
        with self._lock:  # one import at a time: a "cold start" happens once, not once per thread
            if target in self._resolved:
                return self._resolved[target]
            module_name, _, attr = target.rpartition(".")
            try:
                module = importlib.import_module(module_name)
                handler = getattr(module, attr)
            except Exception as error:  # noqa: BLE001 - any import failure means "not available"
                if target not in self._reported:
                    self._reported.add(target)
                    logger.error(
                        "handler %s is not available: %r", target, error, exc_info=not isinstance(error, ImportError)
                    )
                raise HandlerUnavailable(f"{target}: {error!r}") from error
            self._resolved[target] = handler
            self._reported.discard(target)
            return handler

    def preload(self) -> dict[str, str | None]:
        """Import every named handler now (the cold start), reporting which ones failed and why."""
        outcome: dict[str, str | None] = {}
        for target in (self.spec.http, self.spec.connection, self.spec.sweep):
            if target is None:
                continue
            name = target if isinstance(target, str) else _function_name(target)
            try:
                self.resolve(target)
                outcome[name] = None
            except HandlerUnavailable as error:
                outcome[name] = str(error.__cause__ or error)
        return outcome

    def invoke(self, target: str | Handler, event: Mapping[str, Any]) -> Any:
        """Run one invocation in the calling thread (raises what the handler raises)."""
        handler = self.resolve(target)
        return handler(event, LambdaContext(_function_name(target)))

    def submit(self, target: str | Handler, event: Mapping[str, Any]) -> Future:
        return self._pool.submit(self.invoke, target, event)

    @property
    def pool(self) -> ThreadPoolExecutor:
        return self._pool

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
