"""A warm environment's garbage collections leave its cold start alone (session_runtime.runtime.start_up_is_over):
what start-up made is frozen once the first invocation builds the runtime, once per process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import gc, json
import connection_handler.app  # a handler module and its imports: Lambda's init phase
from session_runtime.runtime import build_runtime

before = gc.get_freeze_count()
build_runtime()
first = gc.get_freeze_count()
made_after = [[] for _ in range(500)]
build_runtime()
print(json.dumps({"before": before, "first": first, "second": gc.get_freeze_count()}))
"""


def test_the_first_runtime_freezes_start_up_and_later_ones_freeze_nothing_more() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={
            "PYTHONPATH": os.pathsep.join([str(ROOT / "lambdas"), str(ROOT)]),
            "PATH": "/usr/bin:/bin",
            "TABLE_NAME": "live-sessions",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["before"] == 0
    assert seen["first"] > 20_000  # the handler's modules, models and settings
    assert seen["second"] == seen["first"]  # an invocation's objects are never frozen
