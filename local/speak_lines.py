"""What `python -m local speak` makes of each line it reads: a speaker's command, a broadcast, or a message.

- `/pause` and the other COMMANDS are the speaker's actions; any other `/word` is refused with the list
  (a typo such as `/puase` must not go out to every listener as a broadcast);
- `//text` sends `/text` (a line that really starts with a slash);
- a line that parses as JSON is broadcast as that JSON (`{"slide": 3}`, `42`, `"quoted"`), as the console does;
  any other line as `{"text": line}`; with `--message`, every line is a stored message's text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Final

# The speaker's commands, in the order `--help` and a refusal list them.
COMMANDS: Final[dict[str, str]] = {
    "pause": "pause the session (broadcasts are refused until /resume)",
    "resume": "resume a paused session",
    "mute": "mute the session",
    "unmute": "unmute it",
    "end": "end the session: every listener is closed, and speak exits",
    "ping": "check the connection (answered with pong)",
    "history": "the session's stored messages",
}


def commands_help() -> str:
    width = max(len(name) for name in COMMANDS) + 1
    listed = "\n".join(f"  /{name:<{width}} {what}" for name, what in COMMANDS.items())
    return (
        'Each line of stdin is broadcast: a line that parses as JSON as that JSON (e.g. {"slide": 3}), any other\n'
        'line as {"text": line}; with --message, each line is a stored message instead. Empty lines are skipped.\n'
        f"Commands:\n{listed}\n"
        "  //text    sends a line that starts with a slash (/text)"
    )


class UnknownCommand(ValueError):
    def __init__(self, command: str) -> None:
        known = " ".join(f"/{name}" for name in COMMANDS)
        super().__init__(f"unknown command /{command}: the commands are {known} (//text sends /text)")


@dataclass(frozen=True)
class Action:
    name: str
    fields: dict[str, object] = field(default_factory=dict)


def parse_line(line: str, *, message: bool = False, channel: str | None = None) -> Action | None:
    """The action a line asks for; None for an empty line; UnknownCommand for a `/word` that is not one.
    `channel`: a broadcast goes to that channel's listeners only (commands and messages are session-wide)."""
    text = line.rstrip("\r\n")
    if not text.strip():
        return None
    if text.startswith("/") and not text.startswith("//"):
        command = text[1:].strip()
        if command not in COMMANDS:
            raise UnknownCommand(command)
        return Action(command)
    if text.startswith("//"):
        text = text[1:]
    if message:
        return Action("sendMessage", {"text": text})
    fields: dict[str, object] = {"data": _data(text)}
    if channel is not None:
        fields["channel"] = channel
    return Action("broadcast", fields)


def _data(text: str) -> object:
    try:
        return json.loads(text, parse_constant=_not_json)
    except ValueError:
        return {"text": text}


def _not_json(constant: str) -> object:
    raise ValueError(f"{constant} is not JSON")  # Python's json reads NaN and Infinity; JSON has neither
