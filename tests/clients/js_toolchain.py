"""The TypeScript client's pinned toolchain (clients/js/package-lock.json) for the tests that need it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parents[2] / "clients" / "js"


def toolchain_installed() -> bool:
    """Every required package of package-lock.json is in node_modules at its locked version (compared by
    content: a fresh checkout's files are newer than an install that still matches them). Optional ones
    (esbuild's binaries for other platforms) are skipped."""
    lock = json.loads((JS / "package-lock.json").read_text())
    for path, entry in lock["packages"].items():
        if not path or entry.get("optional"):
            continue
        installed = JS / path / "package.json"
        if not installed.exists() or json.loads(installed.read_text()).get("version") != entry.get("version"):
            return False
    return True


def ensure_js_toolchain() -> None:
    """Node and npm present, and `npm ci` run when node_modules does not hold the locked toolchain."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.fail("node and npm are needed for the TypeScript client (Node 20+)")
    if toolchain_installed():
        return
    if (JS / "node_modules").is_symlink():
        # npm ci replaces node_modules: through a link it would delete a toolchain other checkouts share.
        pytest.fail(f"{JS / 'node_modules'} links a toolchain that does not match package-lock.json: refresh it there")
    command = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    result = subprocess.run(command, cwd=JS, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        pytest.fail(f"npm ci failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
