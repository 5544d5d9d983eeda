"""`make synth` installs only what synthesis needs: the CDK's Python packages (and the handlers' own, which the
stack is built from), the pinned CDK CLI and the layer; no test, lint or emulator tools. Then it says where
the template went. Read from `make -n -B` (what it would run from nothing; nothing runs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNNEEDED = ("requirements-dev.txt", "requirements-local.txt", "requirements-emulator.txt", "asyncapi", "chromium")


def test_synth_installs_the_cdk_only_and_prints_the_template() -> None:
    command = ["make", "--no-print-directory", "-n", "-B", "synth"]  # no "Entering directory" under make test
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    commands = result.stdout
    assert "install -r requirements.txt -r requirements-cdk.txt" in commands
    assert "npm ci" in commands and "cdk synth" in commands
    for unneeded in UNNEEDED:
        assert unneeded not in commands, f"make synth would install {unneeded}"
    assert commands.rstrip().endswith("-m infra.synthesized cdk.out")
