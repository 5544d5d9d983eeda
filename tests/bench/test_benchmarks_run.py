"""Every benchmark under bench/ runs once, at a tiny size, in `make test`: a benchmark cannot break silently.

Each benchmark module declares the arguments of its tiny run (`SMOKE_ARGS`); the figures are not checked
(the benchmarks exist to print them), only that it runs through, prints its tables and finds nothing wrong
(each benchmark asserts what it measures: counts, exactly-once delivery, status codes).
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from bench.__main__ import BENCHMARKS

REPO = Path(__file__).resolve().parents[2]


def test_every_benchmark_module_is_listed():
    """A new benchmark under bench/ (a module with a `main`) is one `python -m bench` runs, and so is tested."""
    modules = {
        path.stem
        for path in (REPO / "bench").glob("*.py")
        if not path.stem.startswith("_") and "\ndef main(" in path.read_text()
    }
    assert modules == set(BENCHMARKS)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_each_benchmark_runs_once_at_a_tiny_size(name: str) -> None:
    smoke_args = importlib.import_module(f"bench.{name}").SMOKE_ARGS
    result = subprocess.run(
        [sys.executable, "-m", "bench", name, *smoke_args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
    )
    command = f"python -m bench {name} {' '.join(smoke_args)}"
    assert result.returncode == 0, f"`{command}` failed:\n{result.stdout}{result.stderr}"
    assert "\n## " in "\n" + result.stdout, result.stdout  # it printed its table(s)
