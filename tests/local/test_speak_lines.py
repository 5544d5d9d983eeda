"""`python -m local speak`: what each typed line becomes (local/speak_lines.py), and what `--help` lists."""

from __future__ import annotations

import pytest

from local.__main__ import build_parser
from local.speak_lines import COMMANDS, Action, UnknownCommand, parse_line


@pytest.mark.parametrize(
    ("line", "data"),
    [
        ('{"slide": 3}\n', {"slide": 3}),
        ("42", 42),
        ('"quoted"', "quoted"),
        ("[1, 2]", [1, 2]),
        ("hello everyone\n", {"text": "hello everyone"}),
        ("{not json", {"text": "{not json"}),
        ("NaN", {"text": "NaN"}),  # Python's json would read it; JSON (and the server) would not
        ("//etc/hosts", {"text": "/etc/hosts"}),  # a line that starts with a slash, escaped
    ],
)
def test_a_line_is_broadcast_as_json_when_it_is_json(line: str, data: object) -> None:
    assert parse_line(line) == Action("broadcast", {"data": data})


def test_with_message_a_line_is_a_stored_message_as_typed() -> None:
    assert parse_line('{"slide": 3}\n', message=True) == Action("sendMessage", {"text": '{"slide": 3}'})


@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_command_is_its_action(command: str) -> None:
    assert parse_line(f"/{command}\n") == Action(command)


def test_an_unknown_command_is_refused_with_the_list() -> None:
    with pytest.raises(UnknownCommand) as refused:
        parse_line("/puase\n")
    assert str(refused.value).startswith("unknown command /puase: the commands are /pause /resume /mute /unmute /end")


@pytest.mark.parametrize("line", ["", "\n", "   \n", "\r\n"])
def test_an_empty_line_sends_nothing(line: str) -> None:
    assert parse_line(line) is None


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["speak", "--help"])
    shown = capsys.readouterr().out
    for command in COMMANDS:
        assert f"/{command} " in shown, command
    assert '{"slide": 3}' in shown


def test_a_channel_broadcast_names_its_channel_and_commands_and_messages_stay_session_wide() -> None:
    assert parse_line("hola\n", channel="es") == Action("broadcast", {"data": {"text": "hola"}, "channel": "es"})
    assert parse_line("/pause\n", channel="es") == Action("pause")
    assert parse_line("hola\n", message=True, channel="es") == Action("sendMessage", {"text": "hola"})
