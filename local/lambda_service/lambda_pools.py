"""The stack's functions run the way Lambda runs them: a pool of execution environments per function.

Each function declared in session_schema.functions gets a pool of worker processes (local/lambda_service/worker.py):
a worker imports the handler once, serves one event at a time and keeps its module state between events,
as a warm Lambda does. An event goes to an idle worker, or to a new one while the pool is below the
function's concurrency (its declared reserved concurrency unless overridden); beyond that it waits up to
`throttle_wait` seconds and is then throttled. With AWS's limits on (`--aws-limits`) the wait is none, as on
Lambda, and the Region's concurrency (`RegionConcurrency`) caps every function's invocations together.
Events and results cross the process boundary as JSON. A worker that dies mid-invocation, or runs past the
function's timeout (and is killed for it), is replaced; its event fails as a crashed integration
(`WorkerCrashed`). The gateways turn these errors into what API Gateway answers (local/README.md, "Faults").

Handlers given as callables instead of dotted names (gateway tests only) run in the calling thread, in
this process: there is no isolation between concurrent calls of those.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, Protocol

from session_schema.functions import (
    CONNECTION_FUNCTION,
    FANOUT_WORKER_FUNCTION,
    FUNCTIONS,
    FUNCTIONS_BY_NAME,
    HTTP_FUNCTION,
    SWEEP_FUNCTION,
    FunctionDeclaration,
)

from local import LAMBDAS_DIR, REPO_ROOT

logger = logging.getLogger("local.lambdas")

Handler = Callable[[Any, Any], Any]

# Lambda's limit for an API Gateway integration is 29 s (the gateways' last resort; functions time out first).
TIMEOUT_SECONDS = 29.0
# How long an event over the concurrency limit waits for a worker before it is throttled. Lambda throttles
# at once; here a burst queues instead (within API Gateway's 29 s), because on a laptop the burst's new
# environments share a few cores with the stack, the embedded DynamoDB and the clients, and each takes
# far longer than a Lambda's would (e.g. 100 listeners' `$disconnect`s at once when a bench run ends).
THROTTLE_WAIT_SECONDS = 20.0
_START_TIMEOUT_SECONDS = 120.0  # a template's imports on a busy machine


class HandlerUnavailable(RuntimeError):
    """The handler's module does not exist (yet) or fails to import."""


class FunctionError(RuntimeError):
    """The handler raised, or returned what JSON cannot carry (Lambda's function error)."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type


class WorkerCrashed(RuntimeError):
    """The execution environment died mid-invocation or was killed at the function's timeout."""


class Throttled(RuntimeError):
    """Every execution environment the function may have was busy for the whole wait. `reason`: Lambda's
    TooManyRequestsException `Reason` (its reserved concurrency, or the Region's)."""

    def __init__(self, message: str, reason: str = "ReservedFunctionConcurrentInvocationLimitExceeded") -> None:
        super().__init__(message)
        self.reason = reason


class RegionConcurrency:
    """The account's concurrent executions in the Region, shared by every function (`--aws-limits`): an
    invocation past it is throttled at once, whatever its function's reserved concurrency, as Lambda does."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._running = 0
        self._lock = threading.Lock()

    def enter(self, function: str) -> None:
        with self._lock:
            if self._running >= self.limit:
                raise Throttled(
                    f"{function}: the Region's {self.limit} concurrent executions are in use",
                    "ConcurrentInvocationLimitExceeded",
                )
            self._running += 1

    def leave(self) -> None:
        with self._lock:
            self._running -= 1


class LambdaContext:
    """The attributes and method Powertools and handlers read from Lambda's context object."""

    def __init__(
        self,
        function_name: str,
        timeout_seconds: float = TIMEOUT_SECONDS,
        memory_mb: int = 512,
        request_id: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class HandlerSpec:
    """What runs each function: its declared handler by default; a dotted name (run in worker processes)
    or a callable (run in-process: gateway tests) instead. `sweep=None`: no sweep."""

    http: str | Handler = FUNCTIONS_BY_NAME[HTTP_FUNCTION].handler
    connection: str | Handler = FUNCTIONS_BY_NAME[CONNECTION_FUNCTION].handler
    sweep: str | Handler | None = FUNCTIONS_BY_NAME[SWEEP_FUNCTION].handler
    fanout_worker: str | Handler = FUNCTIONS_BY_NAME[FANOUT_WORKER_FUNCTION].handler

    def targets(self) -> dict[str, str | Handler]:
        """Every declared function's target (a function declared later runs its declared handler)."""
        chosen: dict[str, str | Handler | None] = {
            HTTP_FUNCTION: self.http,
            CONNECTION_FUNCTION: self.connection,
            SWEEP_FUNCTION: self.sweep,
            FANOUT_WORKER_FUNCTION: self.fanout_worker,
        }
        out: dict[str, str | Handler] = {}
        for declared in FUNCTIONS:
            target = chosen.get(declared.name, declared.handler)
            if target is not None:
                out[declared.name] = target
        return out


@dataclass(frozen=True)
class PoolSettings:
    """How the local stack runs every function (None: the function's declaration decides)."""

    concurrency: int | None = None  # `serve --concurrency N`
    timeout_seconds: float | None = None
    throttle_wait: float = THROTTLE_WAIT_SECONDS
    output: int | None = None  # a file descriptor for the workers' stdout and stderr (None: this process's)
    region: RegionConcurrency | None = None  # `--aws-limits`: the Region's concurrency across every function


class Function(Protocol):
    name: str

    def start(self) -> str | None: ...  # None, or why the handler is not available
    def invoke(self, event: Mapping[str, Any]) -> Any: ...
    def stop(self) -> None: ...


# -- in-process (callables: gateway tests) ------------------------------------------------------------


class InProcessFunction:
    def __init__(self, name: str, handler: Handler, timeout_seconds: float) -> None:
        self.name = name
        self._handler = handler
        self._timeout = timeout_seconds

    def start(self) -> str | None:
        return None

    def invoke(self, event: Mapping[str, Any]) -> Any:
        return self._handler(event, LambdaContext(self.name, self._timeout))

    def stop(self) -> None:
        pass


# -- worker processes ---------------------------------------------------------------------------------


@dataclass
class _Worker:
    pid: int
    channel: Connection
    init_ms: float | None  # reported on its first invocation (its cold start), then None
    invocations: int = 0

    def looks_dead(self) -> bool:
        """An idle worker's socket is readable only once it has closed (the process is gone)."""
        try:
            return self.channel.poll(0)
        except OSError:
            return True

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.channel.close()


@dataclass
class _Template:
    """The function's template process (local/lambda_service/worker.py): imported the handler, forks workers."""

    process: subprocess.Popen[bytes]
    control: socket.socket
    init_ms: float = 0.0
    forked: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class ProcessPool:
    """One function's execution environments: worker processes forked from its template."""

    def __init__(
        self,
        declared: FunctionDeclaration,
        target: str,
        environment: Mapping[str, str],
        settings: PoolSettings,
    ) -> None:
        self.name = declared.name
        self.target = target
        self.memory_mb = declared.memory_mb
        self.limit = max(1, settings.concurrency or declared.reserved_concurrency)
        self.timeout_seconds = settings.timeout_seconds or float(declared.timeout_seconds)
        self.throttle_wait = settings.throttle_wait
        self._region = settings.region
        self._environment = dict(environment)
        self._output = settings.output
        self._template: _Template | None = None
        self._template_error: str | None = None
        self._template_lock = threading.Lock()
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._busy: dict[int, _Worker] = {}
        self._count = 0  # workers alive or being started: never above self.limit
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------------------------

    def spawn(self) -> None:
        """Start the template process (its imports run while the caller does other things)."""
        control, theirs = socket.socketpair()
        command = [
            sys.executable,
            "-m",
            "local.lambda_service.worker",
            "--control-fd",
            str(theirs.fileno()),
            "--handler",
            self.target,
            "--function",
            self.name,
            "--memory-mb",
            str(self.memory_mb),
        ]
        try:
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command,
                env=self._environment,
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=self._output,
                stderr=self._output,
            )
        finally:
            theirs.close()
        self._template = _Template(process, control)

    def start(self) -> str | None:
        """Wait for the template's imports, then start the first worker (pre-warmed, as at a deploy)."""
        if self._template is None:
            self.spawn()
        error = self._await_template()
        if error is None:
            try:
                self._release(self._start_worker(), healthy=True, counted=False)
            except (HandlerUnavailable, WorkerCrashed, OSError) as failed:
                return str(failed)
        return error

    def _await_template(self) -> str | None:
        template = self._template
        assert template is not None
        template.control.settimeout(_START_TIMEOUT_SECONDS)
        try:
            with template.control.makefile("rb") as reader:  # closed, or the socket's fd would outlive close()
                line = reader.readline()
        except OSError as error:
            line = json.dumps({"ready": False, "error": f"no answer from the worker: {error!r}"}).encode()
        finally:
            template.control.settimeout(None)
        hello = json.loads(line) if line else {"ready": False, "error": "the worker process exited during init"}
        if not hello.get("ready"):
            self._stop_template()
            self._template_error = hello.get("error")
            logger.error("handler %s (%s) is not available: %s", self.target, self.name, self._template_error)
            return self._template_error
        template.init_ms = float(hello["initMs"])
        self._template_error = None
        logger.info("%s: init (imports %s) done in %.0f ms", self.name, self.target, template.init_ms)
        return None

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            workers = [*self._idle, *self._busy.values()]
            self._idle.clear()
            self._cond.notify_all()
        for worker in workers:
            worker.kill()
        self._stop_template()

    def _stop_template(self) -> None:
        template, self._template = self._template, None
        if template is None:
            return
        template.control.close()  # the template exits when its socket closes
        try:
            template.process.wait(5)
        except subprocess.TimeoutExpired:
            template.process.kill()
            template.process.wait(5)

    # -- workers ---------------------------------------------------------------------------------------

    def _ensure_template(self) -> _Template:
        with self._template_lock:
            template = self._template
            if template is not None and template.process.poll() is None:
                return template
            if self._stopped:
                raise HandlerUnavailable(f"{self.name}: the local stack is stopping")
            self._stop_template()
            self.spawn()  # a handler that failed to import may exist now; a killed template comes back
            error = self._await_template()
            if error is not None:
                raise HandlerUnavailable(f"{self.target}: {error}")
            assert self._template is not None
            return self._template

    def _start_worker(self) -> _Worker:
        template = self._ensure_template()
        ours, theirs = socket.socketpair()
        try:
            with template.lock:
                socket.send_fds(template.control, [b"fork"], [theirs.fileno()])
                first = template.forked == 0
                template.forked += 1
        finally:
            theirs.close()
        channel = Connection(ours.detach())
        if not channel.poll(_START_TIMEOUT_SECONDS):
            channel.close()
            raise WorkerCrashed(f"{self.name}: a new worker did not start")
        try:
            hello = json.loads(channel.recv_bytes())
        except (EOFError, OSError):
            channel.close()
            raise WorkerCrashed(f"{self.name}: a new worker exited at start") from None
        # The first environment's cold start includes the imports; a later one costs its fork.
        init_ms = float(hello["startMs"]) + (template.init_ms if first else 0.0)
        return _Worker(int(hello["pid"]), channel, init_ms)

    def _acquire(self) -> _Worker:
        waited_until = time.monotonic() + self.throttle_wait
        with self._cond:
            while True:
                if self._stopped:
                    raise HandlerUnavailable(f"{self.name}: the local stack is stopping")
                while self._idle:
                    worker = self._idle.pop()
                    if not worker.looks_dead():
                        self._busy[worker.pid] = worker
                        return worker
                    worker.kill()  # died while idle (killed between events): its slot is free again
                    self._count -= 1
                if self._count < self.limit:
                    self._count += 1
                    break
                left = waited_until - time.monotonic()
                if left <= 0:
                    raise Throttled(f"{self.name}: all {self.limit} execution environments busy")
                self._cond.wait(left)
        try:
            worker = self._start_worker()
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._busy[worker.pid] = worker
        return worker

    def _release(self, worker: _Worker, *, healthy: bool, counted: bool = True) -> None:
        with self._cond:
            self._busy.pop(worker.pid, None)
            if not counted:
                self._count += 1
            if healthy and not self._stopped:
                self._idle.append(worker)
            else:
                self._count -= 1
            self._cond.notify()
        if not healthy or self._stopped:
            worker.kill()

    def busy_pids(self) -> list[int]:
        """The workers serving an event now (tests kill one mid-invocation)."""
        with self._cond:
            return list(self._busy)

    def all_pids(self) -> list[int]:
        with self._cond:
            workers = [w.pid for w in self._idle] + list(self._busy)
        template = self._template
        return workers + ([template.process.pid] if template is not None else [])

    def _replace(self) -> None:
        """Start a worker in place of one that died, so the next event finds a warm one."""
        with self._cond:
            if self._stopped or self._idle or self._count >= self.limit:
                return
            self._count += 1
        try:
            worker = self._start_worker()
        except Exception:  # noqa: BLE001 - the next event starts one (and reports why it cannot)
            with self._cond:
                self._count -= 1
            return
        self._release(worker, healthy=True)

    # -- one invocation --------------------------------------------------------------------------------

    def invoke(self, event: Mapping[str, Any]) -> Any:
        if self._region is None:
            return self._invoke(event)
        self._region.enter(self.name)
        try:
            return self._invoke(event)
        finally:
            self._region.leave()

    def _invoke(self, event: Mapping[str, Any]) -> Any:
        request_id = str(uuid.uuid4())
        payload = json.dumps(
            {"requestId": request_id, "remainingMs": int(self.timeout_seconds * 1000), "event": event}
        ).encode()
        worker = self._acquire()
        try:
            worker.channel.send_bytes(payload)
            if not worker.channel.poll(self.timeout_seconds):
                logger.error(
                    "%s RequestId: %s Task timed out after %.2f seconds", self.name, request_id, self.timeout_seconds
                )
                raise WorkerCrashed(f"{self.name}: timed out after {self.timeout_seconds:.0f} s")
            answer = json.loads(worker.channel.recv_bytes())
        except (EOFError, OSError):
            logger.error("%s RequestId: %s Error: Runtime exited (worker %d died)", self.name, request_id, worker.pid)
            self._release(worker, healthy=False)
            threading.Thread(target=self._replace, name=f"{self.name}-replace", daemon=True).start()
            raise WorkerCrashed(f"{self.name}: the execution environment exited mid-invocation") from None
        except BaseException:
            self._release(worker, healthy=False)
            threading.Thread(target=self._replace, name=f"{self.name}-replace", daemon=True).start()
            raise
        cold, worker.init_ms = worker.init_ms, None
        worker.invocations += 1
        self._release(worker, healthy=True)
        logger.log(
            logging.INFO if cold is not None else logging.DEBUG,
            "REPORT %s RequestId: %s Duration: %.2f ms Max Memory Used: %s MB%s",
            self.name,
            request_id,
            answer.get("durationMs", 0.0),
            answer.get("maxMemoryMb", "?"),
            f" Init Duration: {cold:.2f} ms" if cold is not None else "",
        )
        error = answer.get("error")
        if error:
            raise FunctionError(str(error.get("errorType")), str(error.get("errorMessage")))
        return answer.get("result")


# -- every function of the stack ----------------------------------------------------------------------


def worker_environment(handler_environment: Mapping[str, str], scrubbed: tuple[str, ...]) -> dict[str, str]:
    """This process's environment without `scrubbed`, plus the handlers' own (what the CDK stack sets),
    plus the import path of Lambda's task root (`lambdas/`) and of this repository (test handlers)."""
    env = {name: value for name, value in os.environ.items() if name not in scrubbed}
    env.update(handler_environment)
    path = [str(REPO_ROOT), str(LAMBDAS_DIR), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    env["PYTHONPATH"] = os.pathsep.join(path)
    env["PYTHONUNBUFFERED"] = "1"  # a handler's print reaches the terminal when printed, as in CloudWatch
    return env


class Functions:
    """Every declared function of the stack, by name."""

    def __init__(self, spec: HandlerSpec, environment: Mapping[str, str], settings: PoolSettings) -> None:
        self.functions: dict[str, Function] = {}
        for name, target in spec.targets().items():
            declared = FUNCTIONS_BY_NAME[name]
            if isinstance(target, str):
                self.functions[name] = ProcessPool(declared, target, environment, settings)
            else:
                timeout = settings.timeout_seconds or float(declared.timeout_seconds)
                self.functions[name] = InProcessFunction(name, target, timeout)
        limits = [getattr(function, "limit", 8) for function in self.functions.values()]
        # Threads that wait on workers for the WebSocket gateway's loop: as many as may run or wait at once.
        self.executor = ThreadPoolExecutor(max_workers=sum(limits) + 8, thread_name_prefix="invoke")

    def spawn(self) -> None:
        """Start every function's template process: their imports run in parallel."""
        for function in self.functions.values():
            if isinstance(function, ProcessPool):
                function.spawn()

    def start(self) -> dict[str, str | None]:
        """Every function's first execution environment (spawned first if not yet); why each failed, or None."""
        return {name: function.start() for name, function in self.functions.items()}

    def __contains__(self, name: str) -> bool:
        return name in self.functions

    def pool(self, name: str) -> ProcessPool:
        function = self.functions[name]
        if not isinstance(function, ProcessPool):
            raise TypeError(f"{name} runs in-process")
        return function

    def invoke(self, name: str, event: Mapping[str, Any]) -> Any:
        return self.functions[name].invoke(event)

    def stop(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        # Every function at once: each waits for its template process to exit.
        with ThreadPoolExecutor(max(1, len(self.functions)), thread_name_prefix="stop-functions") as stopping:
            list(stopping.map(lambda function: function.stop(), self.functions.values()))
