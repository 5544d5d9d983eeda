"""`python -m infra.emulate`: the real deploy path on one machine.

Starts the local AWS emulator (ministack, from its own venv .emulator/venv: see requirements-emulator.txt)
on 127.0.0.1, bootstraps it, `cdk deploy`s the stack into it with `-c emulated=<endpoint>` (infra/emulator.py
says what that changes) and prints the URLs. Ctrl-C stops the emulator; its state is kept under the state
dir, so the next run starts with the stack still deployed and `cdk deploy` only applies what changed.

    python -m infra.emulate [--port 4599] [--state-dir .emulator] [--keep-running] [--destroy] [--fresh]
    python -m infra.emulate token <email> [--port 4599] [--state-dir .emulator]    # a Cognito ID token
    python -m infra.emulate stop [--destroy] [--state-dir .emulator]              # stop a --keep-running one

--keep-running leaves the emulator running in the background after the deploy (stop it with `stop`);
--destroy runs `cdk destroy` before the emulator stops; --fresh starts from empty state.

The same functions drive tests/emulator (a fresh emulator on a free port, deploy, main flow, destroy, stop).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from infra import speaker
from infra.stack_name import DEFAULT_STAGE, stack_name

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PORT = 4599
DEFAULT_STATE_DIR = REPO_ROOT / ".emulator"
# ministack pins botocore==1.43.106, which the project's boto3==1.44.5 cannot share a venv with: the
# emulator has its own (`make install` builds it from requirements-emulator.txt).
EMULATOR_VENV = Path(os.environ.get("LIVE_SESSIONS_EMULATOR_VENV", REPO_ROOT / ".emulator" / "venv"))
CDK = REPO_ROOT / "node_modules" / ".bin" / "cdk"
HOST = "127.0.0.1"
# The emulator's account and region (same as infra/emulator.py, not imported: that would load aws_cdk).
ACCOUNT = "000000000000"
REGION = "us-east-1"
STAGE = DEFAULT_STAGE
BOOTSTRAP_STACK = "CDKToolkit"
# bootstrap / deploy / destroy take 10-40 s each; a deploy stuck on a resource the emulator never finishes
# must fail, not hang a test run.
CDK_TIMEOUT_SECONDS = 300

# Variables that would point boto3/the CDK CLI at a real account, or change what the emulator's Lambdas see.
_SCRUBBED_ENV = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "CDK_DEFAULT_ACCOUNT",
    "CDK_DEFAULT_REGION",
)


# All the emulator process gets from the caller's environment (see Emulator.environ).
_EMULATOR_PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "USER")


# How the emulator is started: ministack's own entry point, after fixing the ministack 1.5.33 bugs that make
# it answer differently from AWS to a correct handler. Each fix is in the emulator process only (never in
# handler code) and can go when ministack fixes it:
# - a Lambda proxy response with `"body": null` (what Powertools returns for `Response(status_code=204)`)
#   crashes the gateway's response writer (`None.encode`) and the client gets a 500; AWS sends an empty body.
_LAUNCHER = """
import sys
import ministack.app as app

_send_response = app._send_response

async def _send_response_null_body_is_empty(send, status, headers, body, *, head=False):
    return await _send_response(send, status, headers, b"" if body is None else body, head=head)

app._send_response = _send_response_null_body_is_empty
sys.argv = ["ministack"]
sys.exit(app.main())
"""


class EmulatorError(RuntimeError):
    pass


def _clean_environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV and not k.startswith("AWS_ENDPOINT_URL_")}
    return env


def aws_client_environ(endpoint: str) -> dict[str, str]:
    """What an AWS SDK or CLI needs to reach the emulator: its endpoint, its fixed credentials, its region
    (boto3 reads AWS_DEFAULT_REGION, not AWS_REGION: with the latter only it raises NoRegionError)."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


def aws_shell_hint(endpoint: str) -> str:
    """A line to paste into a shell: every later `aws` command or boto3 program there talks to the emulator."""
    return "export " + " ".join(f"{name}={shlex.quote(value)}" for name, value in aws_client_environ(endpoint).items())


def aws_environ(endpoint: str) -> dict[str, str]:
    """Environment for anything that talks to the emulator as if it were AWS (CDK CLI, boto3, aws CLI)."""
    env = _clean_environ()
    env.update(aws_client_environ(endpoint))
    env.update(
        CDK_DISABLE_VERSION_CHECK="1",
        CDK_DISABLE_CLI_TELEMETRY="true",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        # no ~/.aws lookups: nothing on this machine decides which account is used
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    return env


def boto_client(service: str, endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60),
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _port_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


# --- the emulator process ------------------------------------------------------------------------


@dataclass
class Emulator:
    """One ministack process on 127.0.0.1:<port>, its state, logs and temp files under `state_dir`."""

    port: int = DEFAULT_PORT
    state_dir: Path = DEFAULT_STATE_DIR
    persist: bool = True  # keep the emulator's state across restarts (the CLI); tests start empty
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "ministack.log"

    @property
    def info_path(self) -> Path:
        return self.state_dir / "emulator.json"

    def environ(self) -> dict[str, str]:
        """A minimal environment: the emulator passes its whole environment on to every Lambda it runs, so
        nothing of the caller's (a test's fake credentials, POWERTOOLS_* switches...) may leak into the handlers."""
        state, tmp = self.state_dir / "state", self.state_dir / "tmp"
        env = {k: v for k, v in os.environ.items() if k in _EMULATOR_PASSTHROUGH_ENV}
        env.update(
            GATEWAY_PORT=str(self.port),
            BIND_HOST=HOST,
            IOT_MTLS_ENABLED="0",  # else ministack also listens on 0.0.0.0:8883 once cryptography is installed
            LAMBDA_EXECUTOR="local",  # Lambdas as subprocesses of the emulator (no Docker)
            STATE_DIR=str(state),  # also holds the Cognito pools' RSA signing keys
            PERSIST_STATE="1" if self.persist else "0",
            S3_PERSIST="1" if self.persist else "0",
            S3_DATA_DIR=str(state / "s3"),
            TMPDIR=str(tmp),  # Lambda code and worker dirs, pid file
            MINISTACK_ACCOUNT_ID=ACCOUNT,
            MINISTACK_REGION=REGION,
            PYTHONDONTWRITEBYTECODE="1",
        )
        return env

    def start(self, *, detach: bool = False, timeout: float = 60.0) -> None:
        ministack, python = EMULATOR_VENV / "bin" / "ministack", EMULATOR_VENV / "bin" / "python"
        if not ministack.exists():
            raise EmulatorError(
                f"{ministack} is missing: run `make install` (it builds the emulator's venv from "
                "requirements-emulator.txt)"
            )
        if _port_answers(self.port):
            raise EmulatorError(f"port {self.port} on {HOST} is already in use (another emulator? `--port N`)")
        env = self.environ()
        for key in ("STATE_DIR", "TMPDIR"):
            Path(env[key]).mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            # Its own session (process group): stop() takes its Lambda workers down with it, whatever happens.
            self.process = subprocess.Popen(
                [str(python), "-c", _LAUNCHER],
                env=env,
                cwd=str(self.state_dir),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.info_path.write_text(json.dumps({"pid": self.process.pid, "port": self.port, "detached": detach}))
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.endpoint}/_ministack/health"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise EmulatorError(f"ministack exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise EmulatorError(f"ministack did not answer {url} within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (ministack saves its state when persisting, within a second), then make sure nothing of its
        group survives. It has been seen to hang after saving, on a Lambda it started while shutting down:
        hence the bounded wait before SIGKILL."""
        pid = self.process.pid if self.process is not None else _recorded_pid(self.info_path)
        if pid is not None:
            _terminate_group(pid, timeout)
            if self.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=1)
        self.process = None
        with contextlib.suppress(OSError):
            self.info_path.unlink()


def _recorded_pid(info_path: Path) -> int | None:
    try:
        return int(json.loads(info_path.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours still "exists": reap it if we can
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _terminate_group(pid: int, timeout: float) -> None:
    # The emulator was started as a session leader: its pid is its process group id.
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    # Lambda workers and anything else it started: TERM, a moment to exit, then KILL.
    for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
        if not _group_alive(pid):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while _group_alive(pid) and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)


# --- CDK ----------------------------------------------------------------------------------------------


def run_cdk(
    endpoint: str,
    args: list[str],
    *,
    log: TextIO | None = None,
    timeout: float = CDK_TIMEOUT_SECONDS,
    cwd: Path = REPO_ROOT,
) -> None:
    """Run the pinned CDK CLI against the emulator; its output goes to `log` (or is captured and shown on failure)."""
    if not CDK.exists():
        raise EmulatorError(f"{CDK} is missing: run `make install` (npm ci installs the pinned CDK CLI)")
    command = [str(CDK), *args, "--no-notices"]  # notices are fetched from the internet: not here
    # Its own process group: on a timeout or an interrupt (Ctrl-C, a test timeout) the CLI *and* the app it
    # is synthesizing (`python app.py`) are killed, not left running.
    process = subprocess.Popen(
        command,
        cwd=str(cwd),
        env=aws_environ(endpoint),
        stdin=subprocess.DEVNULL,
        stdout=log if log is not None else subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        _kill_group(process)
        raise EmulatorError(
            f"`cdk {' '.join(args)}` did not finish within {timeout:.0f} s (see the cdk log)"
        ) from expired
    except BaseException:
        _kill_group(process)
        raise
    result = subprocess.CompletedProcess(command, process.returncode, stdout)
    if result.returncode != 0:
        output = result.stdout[-4000:] if result.stdout else "(see the cdk log)"
        raise EmulatorError(f"`cdk {' '.join(args)}` failed with {result.returncode}:\n{output}")


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def is_bootstrapped(endpoint: str) -> bool:
    cloudformation = boto_client("cloudformation", endpoint)
    try:
        stacks = cloudformation.describe_stacks(StackName=BOOTSTRAP_STACK)["Stacks"]
    except Exception:  # ValidationError: does not exist
        return False
    return any(s.get("StackStatus", "").endswith("_COMPLETE") and "DELETE" not in s["StackStatus"] for s in stacks)


def bootstrap(endpoint: str, state_dir: Path, *, log: TextIO | None = None) -> bool:
    """`cdk bootstrap aws://000000000000/us-east-1`, unless the emulator already has the toolkit stack.

    Run outside the project (no cdk.json): with the environment named, nothing needs synthesizing, but in
    the project directory the CLI would synthesize the whole app first (seconds of jsii).
    """
    if is_bootstrapped(endpoint):
        return False
    run_cdk(endpoint, ["bootstrap", f"aws://{ACCOUNT}/{REGION}"], log=log, cwd=state_dir)
    return True


def assembly_dir(state_dir: Path) -> Path:
    # Never the project's cdk.out: `make synth` (the real template) must not be overwritten by an emulated one.
    return state_dir / "cdk.out"


def outputs_path(state_dir: Path) -> Path:
    return state_dir / "outputs.json"


def deploy(endpoint: str, state_dir: Path, *, stage: str = STAGE, log: TextIO | None = None) -> dict[str, str]:
    """`cdk deploy` the stack with `-c emulated=<endpoint>`; returns its outputs."""
    out = outputs_path(state_dir)
    run_cdk(
        endpoint,
        [
            "deploy",
            stack_name(stage),
            "-c",
            f"emulated={endpoint}",
            "-c",
            f"stage={stage}",
            "--require-approval",
            "never",
            "--outputs-file",
            str(out),
            "--output",
            str(assembly_dir(state_dir)),
            "--progress",
            "events",
        ],
        log=log,
    )
    return json.loads(out.read_text())[stack_name(stage)]


def destroy(endpoint: str, state_dir: Path, *, stage: str = STAGE, log: TextIO | None = None) -> None:
    """`cdk destroy` from the assembly the deploy wrote (no second synth), or by synthesizing again."""
    assembly = assembly_dir(state_dir)
    app = ["--app", str(assembly)] if (assembly / "manifest.json").exists() else ["-c", f"emulated={endpoint}"]
    run_cdk(endpoint, ["destroy", stack_name(stage), *app, "-c", f"stage={stage}", "--force"], log=log)


# --- what a user of the deployed stack needs ---------------------------------------------------------


@dataclass(frozen=True)
class Deployed:
    endpoint: str
    outputs: Mapping[str, str]

    @property
    def http_url(self) -> str:
        """http://127.0.0.1:<port>/_aws/execute-api/<httpApiId> (the $default stage needs no segment)."""
        return self.outputs["HttpApiUrl"].rstrip("/")

    @property
    def ws_url(self) -> str:
        """ws://127.0.0.1:<port>/_aws/execute-api/<wsApiId>/<stage>."""
        return self.outputs["WebSocketUrl"]

    @property
    def user_pool_id(self) -> str:
        return self.outputs["UserPoolId"]

    @property
    def client_id(self) -> str:
        return self.outputs["UserPoolClientId"]

    def token(self, email: str) -> str:
        return mint_token(self.endpoint, self.user_pool_id, self.client_id, email)


def mint_token(endpoint: str, user_pool_id: str, client_id: str, email: str) -> str:
    """A Cognito ID token for `email` from the emulator's user pool, as `python -m infra.speaker` gets one on a
    real deploy (the same calls). Repeatable: an existing user just gets a new password. The token's `iss` is the
    real Cognito issuer URL; its keys are published by the emulator (JWKS_URL in emulated mode).
    """
    cognito = boto_client("cognito-idp", endpoint)
    pool, password = speaker.UserPool(user_pool_id, client_id), speaker.new_password()
    speaker.create_speaker(cognito, pool, email, password, existing_ok=True)
    return speaker.sign_in(cognito, pool, email, password)


@contextlib.contextmanager
def running_stack(
    *,
    port: int,
    state_dir: Path,
    persist: bool,
    log: TextIO | None = None,
    destroy_on_exit: bool = True,
) -> Iterator[Deployed]:
    """Start an emulator, bootstrap, deploy; on exit destroy (optionally) and stop it, whatever happened."""
    emulator = Emulator(port=port, state_dir=state_dir, persist=persist)
    emulator.start()
    try:
        bootstrap(emulator.endpoint, state_dir, log=log)
        outputs = deploy(emulator.endpoint, state_dir, log=log)
        yield Deployed(emulator.endpoint, outputs)
        if destroy_on_exit:
            destroy(emulator.endpoint, state_dir, log=log)
    finally:
        emulator.stop()


# --- CLI ----------------------------------------------------------------------------------------------


class _Steps:
    def __init__(self) -> None:
        self.started = time.monotonic()

    @contextlib.contextmanager
    def step(self, what: str) -> Iterator[None]:
        print(f"-> {what} ...", flush=True)
        began = time.monotonic()
        yield
        print(f"   done in {time.monotonic() - began:.1f} s", flush=True)

    def total(self) -> float:
        return time.monotonic() - self.started


def _print_ready(deployed: Deployed, state_dir: Path, port: int, total: float, keep_running: bool) -> None:
    state_arg = "" if state_dir == DEFAULT_STATE_DIR else f" --state-dir {state_dir}"
    port_arg = "" if port == DEFAULT_PORT else f" --port {port}"
    print(
        f"""
Deployed {stack_name()} into the emulator at {deployed.endpoint} ({total:.0f} s).

  HTTP API       {deployed.http_url}          (e.g. curl {deployed.http_url}/health)
  WebSocket API  {deployed.ws_url}?sessionId=<id>[&token=<JWT>]
  Cognito        user pool {deployed.user_pool_id}, app client {deployed.client_id}

  A speaker's token (creates the user in the emulator's pool, signs in with USER_PASSWORD_AUTH):
    .venv/bin/python -m infra.emulate token speaker@example.com{port_arg}{state_arg}
  AWS CLI / boto3 against it, in a shell (then `aws ...` or `python` with boto3 there):
    {aws_shell_hint(deployed.endpoint)}
  Logs: {state_dir / 'ministack.log'} (emulator, Lambda output), {state_dir / 'cdk.log'} (bootstrap/deploy)
""",
        flush=True,
    )
    if keep_running:
        print(f"Left running in the background. Stop it with: .venv/bin/python -m infra.emulate stop{state_arg}")
    else:
        print("Ctrl-C stops the emulator (its state is kept: the next run redeploys only what changed).", flush=True)


def cmd_up(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    if args.fresh:
        for name in ("state", "tmp", "cdk.out", "outputs.json"):
            path = state_dir / name
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # a second Ctrl-C: stop waiting for whatever runs now
        stop.set()

    steps = _Steps()
    emulator = Emulator(port=args.port, state_dir=state_dir, persist=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    with open(state_dir / "cdk.log", "a") as log:
        with steps.step(f"starting ministack on {emulator.endpoint} (state in {state_dir / 'state'})"):
            emulator.start(detach=args.keep_running)
        try:
            signal.signal(signal.SIGTERM, request_stop)
            with steps.step(f"cdk bootstrap aws://{ACCOUNT}/{REGION} (skipped when already bootstrapped)"):
                if not bootstrap(emulator.endpoint, state_dir, log=log):
                    print("   already bootstrapped")
            with steps.step(f"cdk deploy {stack_name()} -c emulated={emulator.endpoint} (synth + deploy)"):
                outputs = deploy(emulator.endpoint, state_dir, log=log)
            deployed = Deployed(emulator.endpoint, outputs)
            _print_ready(deployed, state_dir, args.port, steps.total(), args.keep_running)
            if args.keep_running:
                emulator.process = None  # not ours to stop any more: `stop` finds it in emulator.json
                return 0
            signal.signal(signal.SIGINT, request_stop)
            while not stop.wait(1.0):
                if emulator.process is not None and emulator.process.poll() is not None:
                    print(f"ministack exited unexpectedly:\n{emulator.log_tail()}", file=sys.stderr)
                    return 1
            print("\nstopping ...", flush=True)
            if args.destroy:
                with steps.step(f"cdk destroy {stack_name()}"):
                    destroy(emulator.endpoint, state_dir, log=log)
            return 0
        except KeyboardInterrupt:
            print("\ninterrupted", file=sys.stderr)
            return 130
        except EmulatorError as error:
            print(
                f"error: {error}\n(cdk log: {state_dir / 'cdk.log'}, emulator log: {emulator.log_path})",
                file=sys.stderr,
            )
            return 1
        finally:
            if emulator.process is not None:
                with steps.step("stopping ministack"):
                    emulator.stop()


def _running(state_dir: Path) -> tuple[int, int] | None:
    try:
        info = json.loads((state_dir / "emulator.json").read_text())
        return int(info["pid"]), int(info["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cmd_stop(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    running = _running(state_dir)
    if running is None:
        print(f"no emulator recorded in {state_dir / 'emulator.json'}")
        return 0
    pid, port = running
    emulator = Emulator(port=port, state_dir=state_dir)
    if args.destroy and _port_answers(port):
        with open(state_dir / "cdk.log", "a") as log:
            destroy(emulator.endpoint, state_dir, log=log)
    emulator.stop()
    print(f"stopped the emulator on port {port} (pid {pid})")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    state_dir = Path(args.state_dir).resolve()
    running = _running(state_dir)
    port = args.port or (running[1] if running else DEFAULT_PORT)
    try:
        outputs = json.loads(outputs_path(state_dir).read_text())[stack_name()]
    except (OSError, ValueError, KeyError):
        print(f"no deployed stack recorded in {outputs_path(state_dir)}: run `make emulate` first", file=sys.stderr)
        return 1
    print(Deployed(f"http://{HOST}:{port}", outputs).token(args.email))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.emulate", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", choices=("up", "token", "stop"), default="up")
    parser.add_argument("email", nargs="?", help="token: the speaker's email (created in the emulator's pool)")
    parser.add_argument("--port", type=int, default=None, help=f"emulator port on {HOST} (default {DEFAULT_PORT})")
    parser.add_argument("--state-dir", default=str(DEFAULT_STATE_DIR), help="state, logs, outputs (default .emulator)")
    parser.add_argument("--keep-running", action="store_true", help="up: leave the emulator running in the background")
    parser.add_argument("--destroy", action="store_true", help="up/stop: `cdk destroy` before stopping the emulator")
    parser.add_argument("--fresh", action="store_true", help="up: forget the emulator's saved state first")
    args = parser.parse_args(argv)
    if args.command == "token":
        if not args.email:
            parser.error("token needs an email")
        return cmd_token(args)
    if args.port is None:
        args.port = DEFAULT_PORT
    if args.command == "stop":
        return cmd_stop(args)
    return cmd_up(args)


if __name__ == "__main__":
    sys.exit(main())
