"""`python -m local listen` and `python -m local speak` as the README's demo runs them, in subprocesses,
against the local stack: every message the listener gets is one JSON line on its stdout, `speak` turns
each stdin line into a broadcast (JSON as JSON) or a stored message and `/pause` `/resume` `/end` `/ping`
into actions (an unknown `/command` is refused, not broadcast),
and both exit 0 by themselves when the session ends, however it ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local.stack import LocalStack
from tests.support.cli import Cli
from tests.support.local_stack import create_session

pytestmark = pytest.mark.e2e


@pytest.fixture
def clis(tmp_path: Path) -> Iterator[Any]:
    started: list[Cli] = []

    def start(name: str, *args: str, stdin: bool = False) -> Cli:
        cli = Cli(tmp_path, name, *args, stdin=stdin)
        started.append(cli)
        return cli

    yield start
    for cli in started:
        cli.stop()


def _create(stack: LocalStack, token: str) -> str:
    return create_session(stack, token, title="cli")


def _joined(role: str):
    def check(cli: Cli) -> bool:
        lines = cli.json_lines()
        return bool(lines) and lines[0].get("type") == "joined" and lines[0].get("role") == role

    return check


# The field that matters in each message type, read only for that type (the others may not carry it).
_DETAIL: dict[str, Callable[[dict[str, Any]], Any]] = {
    "joined": lambda m: m["role"],
    "broadcast": lambda m: m["data"],
    "broadcastSent": lambda m: m["delivered"],
    "message": lambda m: m.get("text"),
    "sessionUpdated": lambda m: m["session"]["status"],
    "sessionEnded": lambda m: m["session"]["status"],
}


def _summary(messages: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """(type, the field that matters) for each message: what a reader of the output looks at."""
    out: list[tuple[str, Any]] = []
    for m in messages:
        kind = m["type"]
        detail = _DETAIL.get(kind, lambda _: None)(m)
        out.append((kind, detail))
    return out


def test_the_demo_speak_to_a_listener_then_end(stack: LocalStack, clis: Any) -> None:
    assert stack.urls is not None
    token = stack.mint("alice")
    session_id = _create(stack, token)
    ws = ["--ws-url", stack.urls.ws]

    listener = clis("listen", "listen", session_id, *ws)
    listener.wait_until(_joined("listener"), "joined line")
    speaker = clis("speak", "speak", session_id, "--token", token, *ws, stdin=True)
    speaker.wait_until(_joined("speaker"), "joined line")
    # stdin stays open, as in a terminal; a typo of a command is refused here, and nothing is sent
    speaker.write('hello everyone\n\n{"slide": 3}\n/puase\n/pause\n/resume\n/end\n')

    assert speaker.wait() == 0, speaker  # /end is enough: no need to close stdin
    assert listener.wait() == 0, listener  # the session ended: nothing more to listen to

    assert _summary(listener.json_lines()) == [
        ("joined", "listener"),
        ("broadcast", {"text": "hello everyone"}),  # the empty line sent nothing
        ("broadcast", {"slide": 3}),  # a JSON line is sent as that JSON
        ("sessionUpdated", "paused"),
        ("sessionUpdated", "active"),
        ("sessionUpdated", "ended"),
        ("sessionEnded", "ended"),
    ], listener
    # listenerCount reaches the speaker on every join and leave, in any order with the rest.
    assert [m for m in _summary(speaker.json_lines()) if m[0] != "listenerCount"] == [
        ("joined", "speaker"),
        ("broadcastSent", 1),
        ("broadcastSent", 1),
        ("sessionUpdated", "paused"),
        ("sessionUpdated", "active"),
        ("sessionUpdated", "ended"),
        ("sessionEnded", "ended"),
    ], speaker
    assert listener.stderr == "", listener
    assert speaker.stderr.startswith("unknown command /puase: the commands are /pause /resume"), speaker


def test_stored_messages_end_of_input_and_an_end_from_http(stack: LocalStack, clis: Any) -> None:
    assert stack.urls is not None
    token = stack.mint("bob")
    session_id = _create(stack, token)
    ws = ["--ws-url", stack.urls.ws]

    listener = clis("listen", "listen", session_id, *ws)
    listener.wait_until(_joined("listener"), "joined line")
    speaker = clis("speak", "speak", session_id, "--token", token, "--message", *ws, stdin=True)
    speaker.write("stored, then sent\n/ping\n")
    speaker.close_stdin()
    assert speaker.wait() == 0, speaker  # end of input ends `speak`; the session goes on
    types = [m["type"] for m in speaker.json_lines()]
    assert types[0] == "joined" and "pong" in types and "message" in types, speaker

    listener.wait_until(lambda cli: any(m["type"] == "speakerDisconnected" for m in cli.json_lines()), "speaker gone")
    assert listener.process.poll() is None, listener  # still listening: the session is still active

    ended = requests.delete(
        f"{stack.urls.http}/sessions/{session_id}", headers={"Authorization": f"Bearer {token}"}, timeout=15
    )
    assert ended.status_code == 204, ended.text
    assert listener.wait() == 0, listener
    assert _summary(listener.json_lines()) == [
        ("joined", "listener"),
        ("message", "stored, then sent"),
        ("speakerDisconnected", None),
        ("sessionUpdated", "ended"),
        ("sessionEnded", "ended"),
    ], listener
    assert listener.stderr == "" and speaker.stderr == "", (listener, speaker)


def test_listen_to_an_ended_session_is_refused(stack: LocalStack, clis: Any) -> None:
    assert stack.urls is not None
    token = stack.mint("carol")
    session_id = _create(stack, token)
    ended = requests.delete(
        f"{stack.urls.http}/sessions/{session_id}", headers={"Authorization": f"Bearer {token}"}, timeout=15
    )
    assert ended.status_code == 204, ended.text

    listener = clis("listen", "listen", session_id, "--ws-url", stack.urls.ws)
    assert listener.wait() == 1, listener
    assert listener.stdout == ""
    assert "refused" in listener.stderr and "SESSION_ENDED" in listener.stderr, listener


def test_a_listener_on_a_channel_gets_that_channels_lines_and_the_sessions(stack: LocalStack, clis: Any) -> None:
    assert stack.urls is not None
    token = stack.mint("carol")
    session_id = create_session(stack, token, title="cli", channels=["en", "es"])
    ws = ["--ws-url", stack.urls.ws]

    spanish = clis("listen-es", "listen", session_id, "--channel", "es", "--name", "Ana", *ws)
    spanish.wait_until(_joined("listener"), "joined line")
    speaker_es = clis("speak-es", "speak", session_id, "--token", token, "--channel", "es", *ws, stdin=True)
    speaker_es.wait_until(_joined("speaker"), "joined line")
    speaker_es.write("hola\n")
    speaker_es.close_stdin()
    assert speaker_es.wait() == 0, speaker_es
    speaker_en = clis("speak-en", "speak", session_id, "--token", token, "--channel", "en", *ws, stdin=True)
    speaker_en.wait_until(_joined("speaker"), "joined line")
    speaker_en.write("hello\n/end\n")  # `en` is not the listener's channel; the end is session-wide
    assert speaker_en.wait() == 0, speaker_en
    assert spanish.wait() == 0, spanish

    broadcasts = [m for m in spanish.json_lines() if m["type"] == "broadcast"]
    assert [(m["data"], m.get("channel")) for m in broadcasts] == [({"text": "hola"}, "es")], spanish
    assert spanish.json_lines()[-1]["type"] == "sessionEnded", spanish
