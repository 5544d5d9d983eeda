"""The Python client's declared protocol (live_sessions_client/protocol.py: ACTIONS, EVENTS, SESSION_VIEW_FIELDS,
read off its TypedDicts) against the AsyncAPI document the server generates from its own models and serves at
`GET /asyncapi.json` (here from the real HTTP handler, no server needed). The Python twin of
clients/js/test/protocol.test.ts: a message renamed, added or dropped, a required field changed on either side,
or an optional field one side sends or reads that the other does not know, fails here. Frames and fields of a
newer protocol version than the server documents yet (`INTRODUCED_IN`), and those the client declares ahead of
the server (`AHEAD_OF_SERVER`, empty now), may be absent, never different."""

from __future__ import annotations

from typing import Any

import pytest
from live_sessions_client import FATAL_REFUSALS, protocol

Fields = tuple[frozenset[str], frozenset[str]]


@pytest.fixture
def document(handlers) -> dict[str, Any]:
    answer = handlers.http("GET", "/asyncapi.json")
    assert answer.status == 200, answer.raw_body
    assert str(answer.body["asyncapi"]).startswith("3.")
    return answer.body  # type: ignore[no-any-return]


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else schema


def _declared(document: dict[str, Any], discriminator: str) -> dict[str, Fields]:
    """Each message payload's discriminating value (`action` of a frame, `type` of an event) -> its fields."""
    found: dict[str, Fields] = {}
    for channel in document["channels"].values():
        for message in channel["messages"].values():
            schema = _resolve(document, message["payload"])
            prop = schema.get("properties", {}).get(discriminator)
            if prop is None:
                continue
            name = prop.get("const") or (prop.get("enum") or [None])[0] or prop.get("default")
            required = frozenset(schema.get("required", []))
            found[name] = (required, frozenset(schema.get("properties", {})) - required)
    return found


def _declared_ahead(name: str) -> bool:
    return protocol.INTRODUCED_IN.get(name, 1) > 1 or name in protocol.AHEAD_OF_SERVER


def _ahead_of_server(name: str, server: dict[str, Fields]) -> bool:
    """A frame this client knows ahead of the server's document (a newer protocol version, or presence)."""
    return name not in server and _declared_ahead(name)


def _without_newer_fields(kind: str, fields: Fields, server: Fields) -> Fields:
    newer = {
        f.split(".", 1)[1] for f in {*protocol.INTRODUCED_IN, *protocol.AHEAD_OF_SERVER} if f.startswith(kind + ".")
    }
    required, optional = fields
    return required, optional - (newer - server[1])


def test_the_same_actions_each_with_the_same_fields(document) -> None:
    server = _declared(document, "action")
    ours = {name: fields for name, fields in protocol.ACTIONS.items() if not _ahead_of_server(name, server)}
    assert sorted(server) == sorted(ours)
    for action, fields in ours.items():
        assert _without_newer_fields(action, fields, server[action]) == server[action], action


def test_the_same_events_each_with_the_same_fields(document) -> None:
    server = _declared(document, "type")
    ours = {name: fields for name, fields in protocol.EVENTS.items() if not _ahead_of_server(name, server)}
    assert sorted(server) == sorted(ours)
    for kind, fields in ours.items():
        assert _without_newer_fields(kind, fields, server[kind]) == server[kind], kind


def test_each_action_s_answer_is_the_one_the_document_declares(document) -> None:
    for action, answer in protocol.ANSWER_OF.items():
        if action not in document["operations"] and _declared_ahead(action):
            continue
        replies = document["operations"][action]["reply"]["messages"]
        names = {ref["$ref"].rsplit("/", 1)[1] for ref in replies}
        assert names == {answer, "error"}, action


def test_the_handshake_refusals_the_client_stops_on_are_exactly_the_400_403_404_and_410_ones(document) -> None:
    refusals = [r for channel in document["channels"].values() for r in channel["x-handshake"]["refusals"]]
    assert refusals, "the document lists the refused handshakes"
    final = {r["code"] for r in refusals if r["status"] in (400, 403, 404, 410)}
    assert final == FATAL_REFUSALS


def test_the_session_view_carries_what_resume_reads(document) -> None:
    joined = _resolve(document, document["components"]["schemas"]["JoinedEvent"]["properties"]["session"])
    assert frozenset(joined["required"]) == protocol.SESSION_VIEW_FIELDS


def test_stream_events_are_the_ones_the_document_tags_stream(document) -> None:
    tagged = {
        operation["messages"][0]["$ref"].rsplit("/", 1)[1]
        for operation in document["operations"].values()
        if operation["action"] == "receive" and {"name": "stream"} in operation.get("tags", [])
    }
    assert tagged == protocol.STREAM_TYPES
