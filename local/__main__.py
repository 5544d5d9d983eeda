"""`python -m local serve | token | listen | speak | events` (see local/README.md)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from . import console
from . import stack as stack_module
from .aws_limits import AwsLimits
from .iam import PUBLISHER_ROLE
from .speak_lines import commands_help

DEFAULT_HTTP_PORT = 3000


def _add_common(parser: argparse.ArgumentParser, http_port: int | None = DEFAULT_HTTP_PORT) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind / to reach (default 127.0.0.1)")
    port_help = (
        f"HTTP API port (default {http_port})"
        if http_port is not None
        else f"HTTP API port of the stack the token is for (default: the running one's, else {DEFAULT_HTTP_PORT})"
    )
    parser.add_argument("--http-port", type=int, default=http_port, help=port_help)
    parser.add_argument(
        "--state-dir", default=stack_module.DEFAULT_STATE_DIR, help="where the issuer key lives (default .local-state)"
    )


def _settings_overrides(pairs: list[str]) -> dict[str, str]:
    from session_schema.settings import SETTINGS_BY_ENV

    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in SETTINGS_BY_ENV:
            raise SystemExit(
                f"--env {pair!r}: expected NAME=VALUE with a declared setting ({', '.join(SETTINGS_BY_ENV)})"
            )
        out[name] = value
    return out


def _artifact_kinds(path: str | None) -> dict[str, str]:
    """`--artifact-kinds <file>`: the declaration `cdk synth -c artifactKinds=<file>` deploys, as its setting."""
    from session_schema.artifact_kinds import load_kinds_file

    if path is None:
        return {}
    try:
        return {"ARTIFACT_KINDS": load_kinds_file(path).to_setting()}
    except ValueError as error:
        raise SystemExit(f"--artifact-kinds: {error}") from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def _aws_limits(args: argparse.Namespace) -> AwsLimits | None:
    scale, concurrency = args.aws_limits_scale, args.aws_limits_concurrency_scale
    if not args.aws_limits and scale is None and concurrency is None:
        return None
    return AwsLimits(scale=scale or 1.0, concurrency_scale=concurrency or 1.0)


def cmd_serve(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)-5s %(name)-12s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "websockets", "local.ws.protocol"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        if stop.is_set():  # a second Ctrl-C: the user really wants out
            os._exit(130)
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    local = stack_module.LocalStack(
        http_port=args.http_port,
        ws_port=args.ws_port,
        host=args.host,
        state_dir=args.state_dir,
        dynamodb_endpoint=args.dynamodb_endpoint,
        sweep_interval=args.sweep_interval or None,
        idle_timeout=args.idle_timeout,
        max_connection_seconds=args.max_connection_seconds,
        settings_overrides=_artifact_kinds(args.artifact_kinds) | _settings_overrides(args.env),
        concurrency=args.concurrency,
        dev_logs=args.dev_logs,
        webhook_url=args.webhook,
        aws_limits=_aws_limits(args),
    )
    try:
        urls = local.start()
    except OSError as error:
        print(
            f"local stack: cannot start: {error} (is another `make dev` running? try --http-port/--ws-port)",
            file=sys.stderr,
        )
        return 1
    except (BotoCoreError, ClientError) as error:  # --dynamodb-endpoint unreachable, or refused the credentials
        where = args.dynamodb_endpoint or "the embedded moto"
        print(f"local stack: cannot start: DynamoDB at {where}: {error}", file=sys.stderr)
        return 1
    missing = {name: why for name, why in local.handler_status.items() if why}
    port_flag = "" if args.http_port == 3000 else f" --http-port {args.http_port}"
    if args.state_dir != stack_module.DEFAULT_STATE_DIR:
        port_flag += f" --state-dir {args.state_dir}"
    lines = [
        "",
        "Local stack ready",
        f"  HTTP API:      {urls.http}",
        f"  WebSocket API: {urls.ws}",
        f"  Console:       {urls.http}/console/{'' if console.is_built() else '  (not built: make console)'}",
        f"  Token:         .venv/bin/python -m local token <userId>{port_flag}",
        f"  Listen:        .venv/bin/python -m local listen <sessionId> --ws-url {urls.ws}",
        f"  (issuer {urls.issuer}, callback {urls.callback}, AWS {urls.dynamodb})",
    ]
    if local.dynamodb_access.user_credentials:
        lines.append(f"  DynamoDB is signed with your AWS credentials, region {local.dynamodb_access.region}")
    for name, why in missing.items():
        lines.append(f"  WARNING: handler {name} not available yet: {why}")
    lines.append("Ctrl-C stops.")
    print("\n".join(lines), flush=True)

    try:
        while not stop.wait(0.5):
            pass
    finally:
        print("\nstopping the local stack...", file=sys.stderr, flush=True)
        local.stop()
    print("local stack stopped", file=sys.stderr, flush=True)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    """A token for the issuer of the stack serving from --state-dir (whatever its port), or of --http-port.
    Which issuer it is for goes to stderr, so `TOKEN=$(python -m local token alice)` captures only the token."""
    from .cognito import DEFAULT_AUDIENCE, LocalIssuer, served_issuer

    state = Path(args.state_dir)
    served = served_issuer(state)
    if args.http_port is not None:
        issuer_url, audience = stack_module.issuer_url(args.host, args.http_port), DEFAULT_AUDIENCE
    elif served is not None:
        issuer_url, audience = served
    else:
        issuer_url, audience = stack_module.issuer_url(args.host, DEFAULT_HTTP_PORT), DEFAULT_AUDIENCE
    if served is None:
        note = f"no local stack has started with --state-dir {state} yet; one on port {DEFAULT_HTTP_PORT} accepts it"
    elif served[0] == issuer_url:
        note = "the issuer of the local stack serving from this state dir"
    else:
        note = f"NOT the one the local stack serving from {state} accepts: {served[0]} (leave out --http-port)"
    print(f"token for issuer {issuer_url}: {note}", file=sys.stderr)
    issuer = LocalIssuer.load_or_create(state, issuer_url, audience)
    extra = {"cognito:groups": args.group} if args.group else None
    print(
        issuer.mint(args.user_id, ttl_seconds=args.ttl, token_use="access" if args.access else "id", extra_claims=extra)
    )
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    """The lifecycle events the stack serving from --state-dir put on its bus, one JSON per line."""
    from .eventbridge import read_events

    try:
        for line in read_events(Path(args.state_dir), follow=args.follow):
            print(line, flush=True)
    except KeyboardInterrupt:
        return 130
    return 0


def cmd_credentials(args: argparse.Namespace) -> int:
    """Credentials a producer signs the IAM route with (stable per state dir): as JSON, or as shell exports."""
    from .dynamodb import REGION
    from .iam import CredentialStore

    try:
        identity = CredentialStore(args.state_dir).for_role(args.role)
    except ValueError as error:
        print(f"credentials: {error}", file=sys.stderr)
        return 2
    values = {
        "accessKeyId": identity.access_key_id,
        "secretAccessKey": identity.secret_access_key,
        "region": REGION,
        "roleArn": identity.role_arn,
    }
    if args.env:
        print(f"export AWS_ACCESS_KEY_ID={identity.access_key_id}")
        print(f"export AWS_SECRET_ACCESS_KEY={identity.secret_access_key}")
        print(f"export AWS_REGION={REGION}")
        print(f"# they stand for {identity.role_arn}")
    else:
        print(json.dumps(values, indent=2))
    return 0


def _print(message: object) -> None:
    print(json.dumps(message, ensure_ascii=False), flush=True)


def _print_trouble(change: object) -> None:
    """A retry or a close for a reason, on stderr (a quiet run prints nothing there)."""
    error = getattr(change, "error", None)
    if error is not None:
        retry_in = getattr(change, "retry_in", None)
        then = f"; retrying in {retry_in:.1f} s" if retry_in is not None else ""
        print(f"[{getattr(change, 'state', '')}] {error}{then}", file=sys.stderr, flush=True)


def cmd_listen(args: argparse.Namespace) -> int:
    from live_sessions_client import LiveSession, LiveSessionError

    async def main() -> int:
        live = LiveSession(
            args.ws_url,
            args.session_id,
            token=args.token,
            channel=args.channel,
            name=args.name,
            on_state=_print_trouble,
        )
        try:
            _print(await live.connect())
            async for message in live:
                _print(message)
        except LiveSessionError as error:  # a final refusal (now or on a reconnect), or giving up
            print(f"refused: {error}" if error.code != "CLOSED" else str(error), file=sys.stderr)
            return 1
        finally:
            await live.close()
        return 0

    return _run_until_interrupted(main())


def cmd_speak(args: argparse.Namespace) -> int:
    """Read lines from stdin and broadcast each (or store it, with --message); print what arrives.

    Ends at the end of stdin, or when the session ends (`/end`, or the owner ending it elsewhere).
    """
    from live_sessions_client import ActionError, LiveSession, LiveSessionError
    from live_sessions_client.protocol import is_stream_event

    from .speak_lines import UnknownCommand, parse_line

    async def main() -> int:
        client = LiveSession(args.ws_url, args.session_id, token=args.token, on_state=_print_trouble)
        try:
            _print(await client.connect())
        except LiveSessionError as error:
            print(f"cannot join: {error}", file=sys.stderr)
            return 1

        async def act(name: str, fields: dict[str, object]) -> None:
            """One line's action; its answer is printed here, unless it is a stream event (printed below)."""
            try:
                answer = await client.request(name, **fields)
            except ActionError as refused:
                answer = refused.frame
            except LiveSessionError as error:
                print(f"/{name}: {error}" if not fields else str(error), file=sys.stderr, flush=True)
                return
            if not is_stream_event(answer):
                _print(answer)

        async def printer() -> None:
            async for message in client:
                _print(message)
                if message.get("type") == "sessionEnded":
                    return

        loop = asyncio.get_running_loop()
        printing = loop.create_task(printer())
        lines: asyncio.Queue[str] = asyncio.Queue()

        def read_stdin() -> None:
            # A daemon thread, not the loop's executor: a read blocked on a terminal must not keep the
            # process alive once the session has ended.
            for line in iter(sys.stdin.readline, ""):
                try:
                    loop.call_soon_threadsafe(lines.put_nowait, line)
                except RuntimeError:  # the loop is closed: we are exiting
                    return
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(lines.put_nowait, "")

        threading.Thread(target=read_stdin, name="stdin", daemon=True).start()
        try:
            while True:
                next_line = loop.create_task(lines.get())
                await asyncio.wait({next_line, printing}, return_when=asyncio.FIRST_COMPLETED)
                if not next_line.done():  # the session ended (or the connection is gone for good)
                    next_line.cancel()
                    break
                line = next_line.result()
                if not line:  # end of stdin
                    await asyncio.wait({printing}, timeout=0.5)  # let the last answers arrive
                    break
                try:
                    action = parse_line(line, message=args.message, channel=args.channel)
                except UnknownCommand as unknown:
                    print(unknown, file=sys.stderr, flush=True)  # nothing sent: the speaker retypes it
                    continue
                if action is not None:
                    await act(action.name, action.fields)
        finally:
            printing.cancel()
            await client.close()
        if printing.done() and not printing.cancelled() and printing.exception() is not None:
            print(f"connection lost: {printing.exception()}", file=sys.stderr)  # e.g. refused on reconnect
            return 1
        return 0

    return _run_until_interrupted(main())


def _run_until_interrupted(coroutine: object) -> int:
    try:
        return asyncio.run(coroutine)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local", description="The live-sessions stack on this machine.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run both APIs, the embedded DynamoDB/S3 and the issuer")
    _add_common(serve)
    serve.add_argument("--ws-port", type=int, default=3001, help="WebSocket API port (default 3001)")
    serve.add_argument(
        "--dynamodb-endpoint", help="use this DynamoDB (e.g. DynamoDB Local) instead of the embedded one"
    )
    serve.add_argument(
        "--sweep-interval", type=float, default=60, help="seconds between sweeps; 0 disables (default 60)"
    )
    serve.add_argument("--idle-timeout", type=float, default=600, help="close idle WebSockets after this (default 600)")
    serve.add_argument(
        "--max-connection-seconds", type=float, default=7200, help="close any WebSocket after this (default 7200)"
    )
    serve.add_argument(
        "--concurrency",
        type=_positive_int,
        metavar="N",
        help="at most N worker processes per function (default: each function's declared reserved concurrency)",
    )
    serve.add_argument(
        "--artifact-kinds",
        metavar="FILE",
        help="the deployment's artifact kinds, a JSON file (as `cdk synth -c artifactKinds=FILE`); default: the"
        " default kinds",
    )
    serve.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="override a declared setting")
    serve.add_argument("--dev-logs", action="store_true", help="pretty-print the handlers' logs (POWERTOOLS_DEV)")
    serve.add_argument(
        "--webhook", metavar="URL", help="POST every lifecycle event to URL, as an EventBridge API destination would"
    )
    serve.add_argument(
        "--aws-limits",
        action="store_true",
        help=f"enforce AWS's quotas (aws_model/limits.py): {AwsLimits().describe()} (default: off, limitless)",
    )
    serve.add_argument(
        "--aws-limits-scale",
        type=_positive_float,
        metavar="F",
        help=f"multiply every rate by F so a few clients reach them; implies --aws-limits (default 1; e.g. 0.01:"
        f" {AwsLimits(0.01).describe()})",
    )
    serve.add_argument(
        "--aws-limits-concurrency-scale",
        type=_positive_float,
        metavar="F",
        help="multiply Lambda's Region concurrency by F (default 1: handlers run longer here than on Lambda, so a"
        " concurrency scaled with the rates would throttle what AWS serves); implies --aws-limits",
    )
    serve.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    serve.set_defaults(func=cmd_serve)

    token = sub.add_parser("token", help="print a token the running local stack accepts")
    token.add_argument("user_id")
    _add_common(token, http_port=None)
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.add_argument("--access", action="store_true", help="an access token (client_id) instead of an ID token")
    token.add_argument("--group", action="append", help="add a cognito:groups entry")
    token.set_defaults(func=cmd_token)

    credentials = sub.add_parser(
        "credentials",
        help="print AWS credentials a producer signs POST /iam/sessions/{id}/broadcasts with (SigV4)",
        description="Credentials the local stack's IAM route accepts, standing for an IAM role (stable per state "
        "dir). The stack grants the default role; any other --role signs valid requests that are refused 403.",
    )
    credentials.add_argument(
        "--role", default=PUBLISHER_ROLE, help=f"the role they stand for (default {PUBLISHER_ROLE})"
    )
    credentials.add_argument("--env", action="store_true", help="as shell `export` lines instead of JSON")
    credentials.add_argument(
        "--state-dir", default=stack_module.DEFAULT_STATE_DIR, help="the stack's state dir (default .local-state)"
    )
    credentials.set_defaults(func=cmd_credentials)

    listen = sub.add_parser("listen", help="join a session and print every message (one JSON per line)")
    listen.add_argument("session_id")
    listen.add_argument("--ws-url", default="ws://127.0.0.1:3001")
    listen.add_argument("--token", help="a token (the owner's token joins as the speaker)")
    listen.add_argument(
        "--channel", help="listen on this channel (one the session declares): its events and the session's"
    )
    listen.add_argument("--name", help="a display name others see in presence (1 to 64 characters)")
    listen.set_defaults(func=cmd_listen)

    speak = sub.add_parser(
        "speak",
        help="join as the speaker and broadcast each line of stdin (/pause, /end, ...: see speak --help)",
        description="Join a session as its speaker and send each line of stdin; print what arrives (JSON lines).",
        epilog=commands_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    speak.add_argument("session_id")
    speak.add_argument("--ws-url", default="ws://127.0.0.1:3001")
    speak.add_argument("--token", required=True, help="the session owner's token")
    speak.add_argument("--message", action="store_true", help="store each line (sendMessage) instead of broadcasting")
    speak.add_argument("--channel", help="broadcast each line to this channel only (one the session declares)")
    speak.set_defaults(func=cmd_speak)

    events = sub.add_parser("events", help="print the lifecycle events the running stack put (one JSON per line)")
    events.add_argument(
        "--state-dir", default=stack_module.DEFAULT_STATE_DIR, help="the stack's state dir (default .local-state)"
    )
    events.add_argument("--follow", "-f", action="store_true", help="then print each new one as it is put")
    events.set_defaults(func=cmd_events)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
