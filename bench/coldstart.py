"""Cold start per handler: import time in a fresh interpreter, then the first invocation against the warm ones.

Each measurement runs in a new Python process (`python -m bench.coldstart --child <handler>`), like a new
Lambda execution environment: the handler module is imported first (Lambda's init phase), then moto is
started and the table created through a separate boto3 session (so the handler's own clients are still
cold), then the handler is invoked once (the first invocation: Powertools' first resolve, the runtime's
boto3 clients, the first DynamoDB call) and 30 more times (warm). Three processes per handler; medians.
`python -X importtime` then names what the import time is spent on.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from ._common import REPO_ROOT, machine, prepare, table

HANDLERS = {
    "http": ("http_session_handler.app", "GET /sessions/{id} (anonymous)"),
    "ws": ("connection_handler.app", "$connect (anonymous listener)"),
    "sweep": ("connection_handler.sweep", "scheduled sweep (nothing to end)"),
}
PROCESSES = 3
WARM_CALLS = 30
SMOKE_ARGS = ["--processes", "1", "--warm-calls", "1"]  # tests/bench: every benchmark runs once at a tiny size
TABLE_NAME = "live-sessions-coldstart"


def _environment() -> dict[str, str]:
    from session_schema.settings import stack_environment

    env = stack_environment(
        {
            "TABLE_NAME": TABLE_NAME,
            "ARTIFACTS_BUCKET": "coldstart-bucket",
            "WS_CALLBACK_URL": "https://example.execute-api.us-east-1.amazonaws.com/bench",
            "JWT_ISSUER": "http://127.0.0.1:9/coldstart-issuer",
            "JWT_AUDIENCE": "coldstart-client",
        },
        {"POWERTOOLS_LOG_LEVEL": "WARNING"},
    )
    return {
        **os.environ,
        **env,
        "PYTHONPATH": f"{REPO_ROOT / 'lambdas'}{os.pathsep}{REPO_ROOT}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


# -- in the child process ----------------------------------------------------------------------------------


def _child(name: str, warm_calls: int) -> None:
    import importlib
    import io
    from contextlib import redirect_stdout

    module_name, _ = HANDLERS[name]
    started = time.perf_counter()
    module = importlib.import_module(module_name)
    import_ms = (time.perf_counter() - started) * 1000

    import boto3
    from moto import mock_aws

    from session_schema.keys import TABLE

    from tests.fakes import FakeManagementApi
    from tests.http_events import FakeLambdaContext, http_event
    from tests.ws_events import connect_event, new_connection_id

    with mock_aws(), redirect_stdout(io.StringIO()):
        setup = boto3.session.Session(region_name="us-east-1")  # not the default session the handlers use
        ddb = setup.client("dynamodb")
        ddb.create_table(**TABLE.create_table_kwargs(TABLE_NAME))
        from session_schema.store import SessionStore

        session, _ = SessionStore(TABLE_NAME, client=ddb).create_session(
            owner_id="owner-1", title="t", source_language="en", max_listeners=1000
        )
        from session_runtime.runtime import get_runtime

        get_runtime().management = FakeManagementApi()  # the management client is not used by these calls

        def invoke() -> Any:
            if name == "http":
                return module.handler(http_event("GET", f"/sessions/{session.sessionId}"), FakeLambdaContext())
            if name == "ws":
                return module.handler(
                    connect_event(new_connection_id(), {"sessionId": session.sessionId}), FakeLambdaContext()
                )
            return module.handler(
                {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}, FakeLambdaContext()
            )

        timings = []
        for _ in range(1 + warm_calls):
            started = time.perf_counter()
            result = invoke()
            timings.append((time.perf_counter() - started) * 1000)
            if isinstance(result, dict) and "statusCode" in result:
                assert int(result["statusCode"]) == 200, result
    warm_ms = statistics.median(timings[1:] or timings)
    print(json.dumps({"import_ms": import_ms, "first_ms": timings[0], "warm_ms": warm_ms}))


# -- in the parent -----------------------------------------------------------------------------------------


def _python(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter: nothing imported yet, as in a new Lambda execution environment."""
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=True
    )


def _measure(name: str, env: dict[str, str], processes: int, warm_calls: int) -> dict[str, float]:
    runs = []
    for _ in range(processes):
        out = _python(["-m", "bench.coldstart", "--child", name, str(warm_calls)], env, timeout=180)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def _heaviest_imports(module: str, env: dict[str, str], top: int = 6) -> list[tuple[str, float]]:
    """Import time by top-level package: the sum of each module's own time (python -X importtime)."""
    out = _python(["-X", "importtime", "-c", f"import {module}"], env, timeout=120)
    totals: dict[str, float] = {}
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        try:
            own, _cumulative, name = line.removeprefix("import time:").split("|")
            micros = float(own)
        except ValueError:
            continue  # the header line
        package = name.strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + micros / 1000
    return sorted(totals.items(), key=lambda kv: -kv[1])[:top]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        prepare()
        _child(argv[1], int(argv[2]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench coldstart")
    parser.add_argument("--processes", type=int, default=PROCESSES, help="fresh processes per handler (median)")
    parser.add_argument("--warm-calls", type=int, default=WARM_CALLS, help="calls after the first, per process")
    args = parser.parse_args(argv)
    prepare()
    env = _environment()
    rows, heavy = [], []
    for name, (module, what) in HANDLERS.items():
        measured = _measure(name, env, args.processes, args.warm_calls)
        rows.append(
            [
                module,
                measured["import_ms"],
                what,
                measured["first_ms"],
                measured["warm_ms"],
                measured["import_ms"] + measured["first_ms"],
            ]
        )
        heavy.append([module, ", ".join(f"{pkg} {ms:.0f}" for pkg, ms in _heaviest_imports(module, env))])
    print(
        table(
            "Cold start per handler (fresh process each; median of 3)",
            ["handler module", "import ms", "invocation", "first call ms", "warm call ms", "import + first ms"],
            rows,
            [
                f"{machine()}; DynamoDB is moto in-process, so call times are the handler's own work plus moto's",
                "import = Lambda's init phase; the first call adds Powertools' first resolve and the boto3 "
                "clients (created once per execution environment, on first use)",
            ],
        )
    )
    print(
        table(
            "Where the import time goes (python -X importtime: own ms summed per top-level package)",
            ["handler module", "heaviest imports"],
            heavy,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
