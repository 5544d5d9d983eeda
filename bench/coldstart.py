"""Cold start per handler, before and after in one run: import time in a fresh interpreter, then the first call.

Each measurement runs in a new Python process (`python -m bench.coldstart --child ...`), like a new Lambda
execution environment: the handler module is imported first (Lambda's init phase), then moto is started
and the table created through a separate boto3 session (so the handler's own clients are still cold), then
the handler is invoked once (the first invocation: Powertools' first resolve, the runtime's boto3 clients,
the first DynamoDB call) and `--warm-calls` more times. `--processes` processes per handler and variant,
the variants in turns; the best of them (the figure least inflated by whatever else the machine runs).

The code is laid out as Lambda gets it, in temporary folders: the function code (`lambdas/`) and the
dependency layer (lambdas/requirements.txt's packages, copied from this venv), each either as sources
only (Lambda cannot write `__pycache__`, so it compiles them on every cold start) or with bytecode
compiled beforehand (infra/bytecode.py; compiled here by this interpreter, since a .pyc only serves the
Python that wrote it: the deployed asset's are compiled by a Python 3.12). The variants:

- before: `lambdas/` of the revision `--baseline` (default: the code before the cold-start work), sources
  only, the layer without bytecode (as deployed then);
- after, sources: today's `lambdas/`, still without bytecode (the code changes alone);
- after: today's code and layer with their bytecode, as `cdk synth` / `make layer` ship them;
- after, SDK tracing: the same with POWERTOOLS_TRACE_DISABLED=false inside Lambda (X-Ray SDK subsegments).

`--anchor DIR` adds another project's WebSocket connection handler measured the same way (import only):
DIR is a checkout of low-latency-translate (its `session-management/`). `python -X importtime` then names
what the import time is spent on.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ._common import LAMBDAS_DIR, REPO_ROOT, machine, prepare, table

HANDLERS = {
    "http": ("http_session_handler.app", "GET /sessions/{id} (anonymous)"),
    "ws": ("connection_handler.app", "$connect (anonymous listener)"),
    "sweep": ("connection_handler.sweep", "scheduled sweep (nothing to end)"),
}
PROCESSES = 3
WARM_CALLS = 30
# main before the cold-start work (lazy tracer, lazy JWT and OpenAPI imports, shipped bytecode).
BASELINE = "b8b4e2f338ef5683c23af0aaa651c59b4e980206"
VARIANTS = ("before", "after-sources", "after", "after-traced")
ANCHOR_MODULE = "connection_handler.handler"
SMOKE_ARGS = ["--processes", "1", "--warm-calls", "1", "--handlers", "ws"]  # tests/bench: once, tiny
TABLE_NAME = "live-sessions-coldstart"
# The child gets its events from the parent (the environment variable, JSON) with the session ID to fill in.
EVENTS_VARIABLE = "BENCH_COLDSTART_EVENTS"
SESSION_PLACEHOLDER = "bench-placeholder-000"
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def _environment() -> dict[str, str]:
    from session_schema.settings import stack_environment

    env = stack_environment(
        {
            "TABLE_NAME": TABLE_NAME,
            "ARTIFACTS_BUCKET": "coldstart-bucket",
            "EVENT_BUS_NAME": "coldstart-bus",
            "WS_CALLBACK_URL": "https://example.execute-api.us-east-1.amazonaws.com/bench",
            "JWT_ISSUER": "http://127.0.0.1:9/coldstart-issuer",
            "JWT_AUDIENCE": "coldstart-client",
            "CURSOR_KEY_SECRET": "coldstart-cursor-secret",
        },
        {"POWERTOOLS_LOG_LEVEL": "WARNING"},
    )
    return {**os.environ, **env, "PYTHONDONTWRITEBYTECODE": "1"}


# -- the code as Lambda gets it ----------------------------------------------------------------------------


@dataclass
class Variant:
    name: str
    label: str
    code: Path  # the function code folder (Lambda's /var/task)
    layer: Path  # the dependency layer's python/ folder (Lambda's /opt/python)
    env: dict[str, str] = field(default_factory=dict)

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        path = os.pathsep.join([str(self.code), str(self.layer), str(REPO_ROOT)])
        return {**base, **self.env, "PYTHONPATH": path}


def _layer_distributions() -> list[metadata.Distribution]:
    """lambdas/requirements.txt's distributions and what they require (extras left out), as installed here."""
    wanted = [
        re.match(r"[A-Za-z0-9._-]+", line).group(0)  # type: ignore[union-attr]
        for line in (LAMBDAS_DIR / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    found: dict[str, metadata.Distribution] = {}
    while wanted:
        name = wanted.pop().lower().replace("_", "-")
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement for other Pythons only
        found[name] = dist
        for requirement in dist.requires or []:
            if "extra ==" not in requirement:
                wanted.append(re.match(r"[A-Za-z0-9._-]+", requirement).group(0))  # type: ignore[union-attr]
    return list(found.values())


def _copy_layer(target: Path) -> None:
    for dist in _layer_distributions():
        for file in dist.files or []:
            if "__pycache__" in file.parts or file.suffix == ".pyc" or ".." in file.parts:
                continue
            source = Path(str(dist.locate_file(file)))
            if source.is_file():
                destination = target / file
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)


def _extract_baseline(revision: str, target: Path) -> bool:
    try:
        archive = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "archive", "--format=tar", revision, "lambdas"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return False
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return True


def _variants(workdir: Path, wanted: list[str], baseline: str) -> tuple[list[Variant], list[str]]:
    from infra.bytecode import compile_tree, copy_sources

    notes = []
    layer_sources, layer_compiled = workdir / "layer-sources", workdir / "layer-compiled"
    _copy_layer(layer_sources)
    shutil.copytree(layer_sources, layer_compiled)
    compile_tree(layer_compiled, sys.executable, "/opt/python")
    code_sources, code_compiled = workdir / "code-sources", workdir / "code-compiled"
    copy_sources(LAMBDAS_DIR, code_sources)
    copy_sources(LAMBDAS_DIR, code_compiled)
    compile_tree(code_compiled, sys.executable, "/var/task")
    traced = {"LAMBDA_TASK_ROOT": "/var/task", "POWERTOOLS_TRACE_DISABLED": "false", "_X_AMZN_TRACE_ID": TRACE_HEADER}
    variants = {
        "after-sources": Variant("after-sources", "after, sources only", code_sources, layer_sources),
        "after": Variant("after", "after (with bytecode, as shipped)", code_compiled, layer_compiled),
        "after-traced": Variant("after-traced", "after, X-Ray SDK tracing on", code_compiled, layer_compiled, traced),
    }
    if "before" in wanted:
        if _extract_baseline(baseline, workdir / "before"):
            before = workdir / "before" / "lambdas"
            variants["before"] = Variant("before", f"before ({baseline[:7]})", before, layer_sources)
        else:
            notes.append(f"no 'before': revision {baseline} is not in this checkout's history")
    return [variants[name] for name in wanted if name in variants], notes


# -- in the child process ----------------------------------------------------------------------------------


def _child(name: str, warm_calls: int) -> None:
    import importlib
    from contextlib import redirect_stdout

    module_name, _ = HANDLERS[name]
    started = time.perf_counter()
    module = importlib.import_module(module_name)
    import_ms = (time.perf_counter() - started) * 1000

    import boto3
    from moto import mock_aws

    from session_schema.keys import TABLE

    from tests.support.fakes import FakeManagementApi

    # Built by the parent from this checkout's builders, which need this checkout's schema (not the variant's).
    events: list[dict[str, Any]] = json.loads(os.environ[EVENTS_VARIABLE])
    context = SimpleNamespace(
        function_name="coldstart",
        function_version="$LATEST",
        memory_limit_in_mb=1769,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:coldstart",
        aws_request_id="coldstart-request",
    )

    with mock_aws(), redirect_stdout(io.StringIO()):
        setup = boto3.session.Session(region_name="us-east-1")  # not the default session the handlers use
        ddb = setup.client("dynamodb")
        ddb.create_table(**TABLE.create_table_kwargs(TABLE_NAME))
        try:
            from session_store.store import SessionStore
        except ModuleNotFoundError:  # the "before" revision (BASELINE) kept the store in session_schema
            from session_schema.store import SessionStore

        session, _ = SessionStore(TABLE_NAME, client=ddb).create_session(
            owner_id="owner-1", title="t", source_language="en", max_listeners=1000
        )
        from session_runtime.runtime import get_runtime

        get_runtime().management = FakeManagementApi()  # the management client is not used by these calls

        def invoke(call: int) -> Any:
            event = json.loads(json.dumps(events[call]).replace(SESSION_PLACEHOLDER, session.sessionId))
            return module.handler(event, context)

        timings = []
        for call in range(1 + warm_calls):
            started = time.perf_counter()
            result = invoke(call)
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


Figures = dict[str, float]  # import_ms, first_ms, warm_ms


def _events(name: str, calls: int) -> str:
    """The child's events, one per call (each `$connect` a new connection), for the session it will create."""
    from tests.support.http_events import http_event
    from tests.support.ws_events import connect_event, new_connection_id

    def event() -> dict[str, Any]:
        if name == "http":
            return http_event("GET", f"/sessions/{SESSION_PLACEHOLDER}")
        if name == "ws":
            return connect_event(new_connection_id(), {"sessionId": SESSION_PLACEHOLDER})
        return {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}

    return json.dumps([event() for _ in range(calls)])


def _child_run(name: str, env: dict[str, str], warm_calls: int) -> Figures:
    env = {**env, EVENTS_VARIABLE: _events(name, 1 + warm_calls)}
    try:
        out = _python(["-m", "bench.coldstart", "--child", name, str(warm_calls)], env, timeout=180)
    except subprocess.CalledProcessError as failed:
        raise RuntimeError(f"cold start child for {name} failed:\n{failed.stderr[-3000:]}") from None
    result: Figures = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _measure(name: str, envs: dict[str, dict[str, str]], processes: int, warm_calls: int) -> dict[str, Figures]:
    """Best of `processes` fresh processes per variant, taken in turns (variant A, B, C, A, B, C...): on a
    shared machine the load changes by the second, and taking turns gives each variant the same weather;
    the minimum is the figure least inflated by other processes' CPU."""
    runs: dict[str, list[Figures]] = {variant: [] for variant in envs}
    for _ in range(processes):
        for variant, env in envs.items():
            runs[variant].append(_child_run(name, env, warm_calls))
    return {variant: {key: min(run[key] for run in done) for key in done[0]} for variant, done in runs.items()}


def _import_ms(module: str, env: dict[str, str]) -> tuple[float, list[tuple[str, float]]]:
    """(total ms, own ms summed per top-level package, heaviest first) of importing `module` (-X importtime)."""
    out = _python(["-X", "importtime", "-c", f"import {module}"], env, timeout=120)
    totals: dict[str, float] = {}
    total = float("nan")
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        try:
            own, cumulative, name = line.removeprefix("import time:").split("|")
            micros = float(own)
        except ValueError:
            continue  # the header line
        if name.strip() == module:
            total = float(cumulative) / 1000
        package = name.strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + micros / 1000
    return total, sorted(totals.items(), key=lambda kv: -kv[1])


def _anchor(path: Path, env: dict[str, str], processes: int) -> float:
    root = path / "session-management"
    anchor_env = {**env, "PYTHONPATH": os.pathsep.join([str(root / "lambda"), str(root)])}
    return min(_import_ms(ANCHOR_MODULE, anchor_env)[0] for _ in range(processes))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--child"]:
        prepare(code_path=False)  # the variant's PYTHONPATH decides which code is imported
        _child(argv[1], int(argv[2]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench coldstart")
    parser.add_argument("--processes", type=int, default=PROCESSES, help="fresh processes per handler (median)")
    parser.add_argument("--warm-calls", type=int, default=WARM_CALLS, help="calls after the first, per process")
    parser.add_argument("--handlers", default=",".join(HANDLERS), help=f"some of {', '.join(HANDLERS)}")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"some of {', '.join(VARIANTS)}")
    parser.add_argument("--baseline", default=BASELINE, help="the git revision measured as 'before'")
    parser.add_argument("--anchor", type=Path, help="a checkout of low-latency-translate, measured the same way")
    args = parser.parse_args(argv)
    prepare()
    base_env = _environment()
    handlers = [h for h in args.handlers.split(",") if h]
    with tempfile.TemporaryDirectory(prefix="bench-coldstart-") as workdir:
        variants, notes = _variants(Path(workdir), [v for v in args.variants.split(",") if v], args.baseline)
        rows, heavy = [], []
        for name in handlers:
            module, what = HANDLERS[name]
            envs = {variant.name: variant.environment(base_env) for variant in variants}
            measured = _measure(name, envs, args.processes, args.warm_calls)
            reference = None
            for variant in variants:
                figures = measured[variant.name]
                total = figures["import_ms"] + figures["first_ms"]
                reference = total if variant.name == "before" else reference
                ratio = f"{total / reference:.2f}x" if reference else "-"
                rows.append([module, variant.label, figures["import_ms"], figures["first_ms"], total, ratio, what])
                if variant.name in ("before", "after"):
                    _total, packages = _import_ms(module, envs[variant.name])
                    listed = ", ".join(f"{pkg} {ms:.0f}" for pkg, ms in packages[:7])
                    heavy.append([module, variant.label, listed])
        if args.anchor is not None:
            anchor_ms = _anchor(args.anchor, base_env, args.processes)
            rows.append(["low-latency-translate " + ANCHOR_MODULE, "its sources", anchor_ms, "-", "-", "-", "import"])
    print(
        table(
            f"Cold start per handler (fresh process each; best of {args.processes}, variants in turns)",
            ["handler module", "code", "import ms", "first call ms", "import + first ms", "vs before", "first call"],
            rows,
            [
                f"{machine()}; DynamoDB is moto in-process, so call times are the handler's own work plus moto's",
                "import = Lambda's init phase; the first call adds Powertools' first resolve and the boto3 "
                "clients (created once per execution environment, on first use)",
                "bytecode compiled by this interpreter here; the deployed asset's is compiled by Python 3.12",
                *notes,
            ],
        )
    )
    print(
        table(
            "Where the import time goes (python -X importtime: own ms summed per top-level package)",
            ["handler module", "code", "heaviest imports"],
            heavy,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
