"""The Python client's checks of presence and reaction arguments before anything is sent: the `checks` lists of
tests/clients/scripted_cases.json (the TypeScript client runs the same lists in test/presence.unit.test.ts, and
both follow the server's rules), and what only Python can get wrong (a non-JSON value, the sentinel of
`presence(channel=...)`). The frames themselves: the scripted cases."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import pytest
from live_sessions_client import LiveSession, ValidationError, check_name, check_presence_data, check_reaction
from live_sessions_client.presence import presence_fields

from tests.clients.scripted_server import TABLE

CHECKS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "name": ("name", check_name),
    "reaction": ("reaction", check_reaction),
    "presenceData": ("data", check_presence_data),
}


def _cases(validity: str) -> list[Any]:
    return [
        pytest.param(kind, value, id=f"{kind}:{str(value)[:24]!r}")
        for kind in CHECKS
        for value in TABLE["checks"][kind][validity]
    ]


@pytest.mark.parametrize(("kind", "value"), _cases("valid"))
def test_what_the_server_takes_passes_unchanged(kind: str, value: Any) -> None:
    _, check = CHECKS[kind]
    assert check(value) == value


@pytest.mark.parametrize(("kind", "value"), _cases("invalid"))
def test_what_the_server_refuses_is_a_validation_error_naming_the_field(kind: str, value: Any) -> None:
    field, check = CHECKS[kind]
    with pytest.raises(ValidationError) as refused:
        check(value)
    assert (refused.value.code, refused.value.field, refused.value.retryable) == ("VALIDATION_ERROR", field, False)


@pytest.mark.parametrize("data", [math.nan, math.inf, {"when": object()}, {1j}])
def test_presence_data_that_is_not_json_is_refused(data: Any) -> None:
    with pytest.raises(ValidationError, match="data must be JSON"):
        check_presence_data(data)


def test_a_bad_name_is_refused_when_the_client_is_made() -> None:
    with pytest.raises(ValidationError) as refused:
        LiveSession("ws://127.0.0.1:1", "quiet-river-482", name="line\nbreak")
    assert refused.value.field == "name"


def test_a_reaction_before_connecting_is_dropped_not_queued() -> None:
    async def scenario() -> bool:
        return await LiveSession("ws://127.0.0.1:1", "quiet-river-482").react("clap")

    assert asyncio.run(scenario()) is False


def test_presence_fields_tell_every_channel_from_the_main_stream() -> None:
    assert presence_fields() == {}
    assert presence_fields(channel=None) == {"channel": None}
    assert presence_fields(channel="fr", limit=5, cursor="p2") == {"channel": "fr", "limit": 5, "cursor": "p2"}
