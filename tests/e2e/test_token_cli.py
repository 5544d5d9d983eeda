"""`python -m local token` mints for the stack that is running, whatever port it was started on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import REPO, cli_env
from tests.support.local_stack import create_session, running_local_stack

pytestmark = pytest.mark.e2e


def _token(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local", "token", "alice", *args],
        cwd=REPO,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def test_a_token_minted_without_a_port_is_accepted_by_a_stack_on_another_port(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with running_local_stack(state_dir=state) as local:  # a free port, not the default 3000
        assert local.urls is not None
        assert ":3000/" not in local.urls.issuer
        minted = _token("--state-dir", str(state))
        token = minted.stdout.strip()
        assert create_session(local, token, title="any port")  # 201 from the real HTTP API
        assert f"token for issuer {local.urls.issuer}:" in minted.stderr  # names the issuer it minted for


def test_a_token_for_another_port_names_the_issuer_the_running_stack_expects(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with running_local_stack(state_dir=state) as local:
        assert local.urls is not None
        minted = _token("--state-dir", str(state), "--http-port", "3000")
        assert "http://127.0.0.1:3000/" in minted.stderr
        assert f"NOT the one the local stack serving from {state} accepts: {local.urls.issuer}" in minted.stderr


def test_without_a_stack_it_mints_for_the_default_port_and_says_so(tmp_path: Path) -> None:
    minted = _token("--state-dir", str(tmp_path / "never-served"))
    assert minted.stdout.count(".") == 2  # a compact JWS
    assert "token for issuer http://127.0.0.1:3000/" in minted.stderr
    assert "no local stack has started" in minted.stderr
