"""Compiled bytecode for what Lambda imports: the function code asset and the dependency layer.

Lambda's code and layers are read-only, so a module shipped as source only is compiled again on every cold
start (part of each handler's import time: `python -m bench coldstart`). A `.pyc` is only used by the Python
version that wrote it (its magic number and `cpython-312` cache tag), so these are compiled by a Python of
the runtime's version found on this machine: `LAMBDA_PYTHON`, else `python3.12` on PATH, else a pyenv one.
Without one the asset ships sources only (slower cold starts, same behaviour) and the build says so.

The files are `unchecked-hash` pycs: Python loads them without comparing the source's mtime (which zipping
and unzipping the asset changes), and they carry no build path or time, so the same sources give the same
asset hash on every machine. `-d` records the path Lambda runs them from, for tracebacks.

`python -m infra.bytecode DIR --ddir /opt/python` compiles a tree in place (`make layer` does, for the layer).
"""

from __future__ import annotations

import argparse
import atexit
import functools
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

LAMBDA_PYTHON_VERSION = (3, 12)  # infra.functions.RUNTIME (python3.12)
CACHE_TAG = f"cpython-{LAMBDA_PYTHON_VERSION[0]}{LAMBDA_PYTHON_VERSION[1]}"
FUNCTION_ROOT = "/var/task"  # where Lambda unpacks the function code
LAYER_ROOT = "/opt/python"  # where a Python layer's `python/` folder lands

# Never ship tests, caches, bytecode of another interpreter or pip manifests inside the function code.
EXCLUDED_NAMES = ("tests", "__pycache__", "*.pyc", ".pytest_cache", ".hypothesis", ".mypy_cache", "requirements*.txt")


def _version_of(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
        return int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


@functools.cache
def find_lambda_python() -> str | None:
    """A Python of Lambda's version (3.12) on this machine, or None."""
    major, minor = LAMBDA_PYTHON_VERSION
    candidates = [
        os.environ.get("LAMBDA_PYTHON"),
        shutil.which(f"python{major}.{minor}"),
        *sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{major}.{minor}*/bin/python{major}.{minor}"))),
    ]
    for candidate in candidates:
        if candidate and _version_of(candidate) == LAMBDA_PYTHON_VERSION:
            return candidate
    return None


def compile_tree(root: Path, python: str, ddir: str) -> None:
    """Write `__pycache__/*.pyc` for every module under `root`, compiled by `python`, as run from `ddir`."""
    subprocess.run(
        [python, "-m", "compileall", "-q", "-d", ddir, "--invalidation-mode", "unchecked-hash", str(root)],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=300,
    )


def copy_sources(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*EXCLUDED_NAMES))


@functools.cache
def function_code(source: Path) -> Path:
    """A copy of `source` (lambdas/) as shipped: sources plus Lambda's pycs. A temporary folder per process,
    so builds from several checkouts or test runs at once never share one."""
    target = Path(tempfile.mkdtemp(prefix="lambda-code-")) / "code"
    atexit.register(shutil.rmtree, target.parent, True)
    copy_sources(source, target)
    python = find_lambda_python()
    if python is None:
        print(
            f"warning: no Python {'.'.join(map(str, LAMBDA_PYTHON_VERSION))} found (set LAMBDA_PYTHON): the function "
            "code ships without compiled bytecode, so every cold start compiles it",
            file=sys.stderr,
        )
    else:
        compile_tree(target, python, FUNCTION_ROOT)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bytecode", description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--ddir", required=True, help="the folder Lambda runs the tree from")
    args = parser.parse_args(argv)
    python = find_lambda_python()
    if python is None:
        print(f"warning: no {CACHE_TAG} Python (set LAMBDA_PYTHON): {args.root} stays source only", file=sys.stderr)
        return 0
    compile_tree(args.root, python, args.ddir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
