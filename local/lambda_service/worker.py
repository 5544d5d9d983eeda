"""One function's execution environments: `python -m local.lambda_service.worker` (started by
local/lambda_service/lambda_pools.py only).

The process started is the function's *template*: it imports the handler once (Lambda's init phase, timed
as its Init Duration), then forks one worker per execution environment the pool asks for. A fork of a
process that has imported the handler and served nothing is what a fresh Lambda environment is after its
init, at the cost of a fork instead of another second of imports. Each worker then serves one event at a
time on its own socket, keeping its module state between events, as a warm Lambda does.

Wire format (socket pair with the pool; one JSON document per message, length-prefixed by
multiprocessing.connection): the pool sends `{"requestId", "remainingMs", "event"}`, the worker answers
`{"result"}` or `{"error": {"errorType", "errorMessage"}}`, with `durationMs` and `maxMemoryMb`. A result
json.dumps refuses is Lambda's Runtime.MarshalError, not a crash.

Ctrl-C reaches every process of the terminal's group: these ignore SIGINT, and the pool ends them after
the stack's last `$disconnect`. A template or worker whose pool went away (its socket closed) exits.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import resource
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from .lambda_pools import LambdaContext

Handler = Callable[[Any, Any], Any]


class _Invocation:
    """The request ID every log record of the current invocation carries (None between invocations)."""

    request_id: str | None = None


def _label_log_records(function_name: str) -> None:
    """Every log line names its function and the invocation's request ID (Powertools prints a record's
    extra attributes; the root handler below prints them too), and nothing else carries over."""
    make_record = logging.getLogRecordFactory()

    def labelled(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        record.function_name = function_name
        record.function_request_id = _Invocation.request_id
        return record

    logging.setLogRecordFactory(labelled)
    # Lambda's runtime prints the root logger's WARNING and above with the request ID; so does this.
    root = logging.StreamHandler(sys.stderr)
    root.setFormatter(
        logging.Formatter("[%(levelname)s] %(asctime)s %(function_name)s %(function_request_id)s %(name)s %(message)s")
    )
    logging.getLogger().addHandler(root)
    logging.getLogger().setLevel(logging.WARNING)


def _serve(channel: Connection, handler: Handler, function_name: str, memory_mb: int, started: float) -> None:
    channel.send_bytes(json.dumps({"pid": os.getpid(), "startMs": (time.perf_counter() - started) * 1000}).encode())
    while True:
        try:
            request = json.loads(channel.recv_bytes())
        except (EOFError, OSError):  # the pool is gone
            os._exit(0)
        _Invocation.request_id = request["requestId"]
        context = LambdaContext(
            function_name,
            timeout_seconds=request["remainingMs"] / 1000,
            memory_mb=memory_mb,
            request_id=request["requestId"],
        )
        began = time.perf_counter()
        try:
            answer: dict[str, Any] = {"result": handler(request["event"], context)}
        except Exception as error:  # noqa: BLE001 - Lambda reports any exception as the invocation's error
            traceback.print_exc(file=sys.stderr)
            answer = {"error": {"errorType": type(error).__name__, "errorMessage": str(error)}}
        answer["durationMs"] = (time.perf_counter() - began) * 1000
        answer["maxMemoryMb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        try:
            payload = json.dumps(answer)
        except (TypeError, ValueError) as error:
            error_answer = {"errorType": "Runtime.MarshalError", "errorMessage": f"Unable to marshal response: {error}"}
            payload = json.dumps({**answer, "result": None, "error": error_answer})
        _Invocation.request_id = None
        sys.stdout.flush()
        sys.stderr.flush()
        channel.send_bytes(payload.encode())


# The AWS services the handlers' clients talk to (session_runtime/runtime.py).
_SDK_SERVICES = ("dynamodb", "s3", "apigatewaymanagementapi")


def _load_sdk_models() -> None:
    """Read botocore's service models once, here: every forked environment then finds them in memory
    (as it finds the imported modules) instead of each parsing the same JSON files again on its first
    event. Only the default session's model cache is kept; no client survives."""
    boto3 = sys.modules.get("boto3")
    if boto3 is None:
        return
    try:
        for service in _SDK_SERVICES:
            boto3.client(service, region_name=os.environ.get("AWS_REGION", "us-east-1"))
    except Exception as error:  # noqa: BLE001 - an optimisation only
        print(f"could not preload the AWS SDK's models: {error!r}", file=sys.stderr)


def _template(control: socket.socket, target: str, function_name: str, memory_mb: int) -> None:
    began = time.perf_counter()
    _label_log_records(function_name)
    module_name, _, attr = target.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attr)
    except BaseException as error:  # noqa: BLE001 - reported to the pool, which reports it to the user
        control.sendall(json.dumps({"ready": False, "error": repr(error)}).encode() + b"\n")
        return
    _load_sdk_models()
    init_ms = (time.perf_counter() - began) * 1000
    if threading.active_count() > 1:  # a fork copies only the forking thread: another's locks stay held
        print(f"{function_name}: the handler's import started threads; its workers may deadlock", file=sys.stderr)
    control.sendall(json.dumps({"ready": True, "pid": os.getpid(), "initMs": init_ms}).encode() + b"\n")
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked workers are reaped by the kernel
    while True:
        message, fds, _flags, _address = socket.recv_fds(control, 16, 1)
        if not message:
            # The pool is gone: exit at once. The template holds no state, and the interpreter's teardown of the
            # handler's imports would take a second for nothing.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        if not fds:
            continue
        forked_at = time.perf_counter()
        if os.fork() == 0:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # a handler's own subprocesses must be waitable
            control.close()
            _serve(Connection(fds[0]), handler, function_name, memory_mb, forked_at)
            os._exit(0)
        os.close(fds[0])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.lambda_service.worker")
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--function", required=True)
    parser.add_argument("--memory-mb", type=int, default=512)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    control = socket.socket(fileno=args.control_fd)
    _template(control, args.handler, args.function, args.memory_mb)


if __name__ == "__main__":
    main()
