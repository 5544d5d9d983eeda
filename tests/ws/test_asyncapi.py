"""`GET /asyncapi.json`: the WebSocket API's AsyncAPI 3 document, checked three ways.

- The AsyncAPI project's own parser (`@asyncapi/parser`, pinned in tools/asyncapi, installed by
  `make install`) finds no error and no warning in the document the HTTP handler serves.
- It lists exactly the actions of the route table and of the frame models (and every event model), so
  an action added in one place and not the other fails here.
- What the real handler answers and pushes, for every action, every refusal and every refused handshake,
  validates against the document's schemas and is one of the answers the document declares.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from session_protocol.frames import ACTIONS
from session_schema import errors as domain_errors
from session_schema.routes import WS_ACTIONS, WS_ROUTES

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR_DIR = ROOT / "tools" / "asyncapi"


@pytest.fixture
def document(handlers) -> dict[str, Any]:
    answer = handlers.http("GET", "/asyncapi.json")  # anyone: no token
    assert answer.status == 200, answer.raw_body
    assert answer.headers["Content-Type"] == "application/json"
    return answer.body


def _schema_check(document: dict[str, Any], model_name: str, payload: dict[str, Any]) -> None:
    root = {"$ref": f"#/components/schemas/{model_name}", "components": document["components"]}
    problems = [e.message for e in Draft202012Validator(root).iter_errors(payload)]
    assert not problems, (model_name, payload, problems)


def _payload_model(document: dict[str, Any], message_key: str) -> str:
    ref: str = document["channels"]["session"]["messages"][message_key]["payload"]["$ref"]
    return ref.rsplit("/", 1)[1]


def _answers_of(document: dict[str, Any], action: str) -> set[str]:
    return {ref["$ref"].rsplit("/", 1)[1] for ref in document["operations"][action]["reply"]["messages"]}


class Conformance:
    """Checks each frame the handler sent against the document: its `type` is a documented message and
    its body validates against that message's payload schema."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.types_seen: set[str] = set()

    def event(self, payload: dict[str, Any]) -> str:
        kind = payload["type"]
        assert kind in self.document["channels"]["session"]["messages"], f"{kind} is not documented"
        _schema_check(self.document, _payload_model(self.document, kind), payload)
        self.types_seen.add(kind)
        return str(kind)

    def answer(self, action: str, payload: dict[str, Any]) -> str:
        kind = self.event(payload)
        assert kind in _answers_of(self.document, action), (action, kind)
        return kind


# ------------------------------------------------------------------ the official parser


def test_the_asyncapi_project_s_parser_accepts_the_served_document(document, tmp_path):
    node = shutil.which("node")
    assert node, "node (20+) is needed: it runs the AsyncAPI parser"
    installed = (VALIDATOR_DIR / "node_modules" / "@asyncapi" / "parser").is_dir()
    assert installed, "run `make install` (or `npm ci --prefix tools/asyncapi`) first"
    served = tmp_path / "asyncapi.json"
    served.write_text(json.dumps(document))
    run = subprocess.run(
        [node, str(VALIDATOR_DIR / "validate.mjs"), str(served)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["version"] == "3.0.0" and report["errors"] == [] and report["warnings"] == []


def test_the_parser_is_not_a_rubber_stamp(document, tmp_path):
    """The same check fails a document whose reply names a message the channel does not have."""
    broken = json.loads(json.dumps(document))
    broken["operations"]["join"]["reply"]["messages"].append({"$ref": "#/channels/session/messages/nothing"})
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    run = subprocess.run(
        [shutil.which("node") or "node", str(VALIDATOR_DIR / "validate.mjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1 and json.loads(run.stdout)["errors"], run.stdout


# ------------------------------------------------------------------ the same actions everywhere


def test_every_action_is_documented_and_nothing_else(document):
    FRAME_MODELS = {spec.name: spec.frame for spec in ACTIONS}
    sent = {name for name, op in document["operations"].items() if op["action"] == "send"}
    routed = {route.route_key for route in WS_ROUTES if not route.route_key.startswith("$")}
    assert sent == set(WS_ACTIONS) == set(FRAME_MODELS) == routed
    for action in WS_ACTIONS:
        operation = document["operations"][action]
        (message,) = operation["messages"]
        key = message["$ref"].rsplit("/", 1)[1]
        assert _payload_model(document, key) == FRAME_MODELS[action].__name__
        assert document["components"]["schemas"][FRAME_MODELS[action].__name__]["properties"]["action"] == {
            "const": action,
            "title": "Action",
            "type": "string",
        }
        assert operation["tags"] == [{"name": "speaker" if action in ACTIONS.speaker_only else "any"}]
        assert "error" in _answers_of(document, action)


def test_every_event_the_server_can_build_is_a_documented_message(document):
    from session_protocol.events import EVENT_MODELS

    messages = document["channels"]["session"]["messages"]
    for model in EVENT_MODELS:
        kind = model.model_fields["type"].default
        assert _payload_model(document, kind) == model.__name__
        assert document["components"]["schemas"][model.__name__]["required"][0] == "type"
    received = {
        op["messages"][0]["$ref"].rsplit("/", 1)[1]
        for op in document["operations"].values()
        if op["action"] == "receive"
    }
    assert received == {
        "broadcast",
        "message",
        "sessionUpdated",
        "sessionEnded",
        "listenerCount",
        "speakerDisconnected",
        "artifactUpdated",
        "batch",
    }
    assert set(messages) == {f"{a}Action" for a in WS_ACTIONS} | {m.model_fields["type"].default for m in EVENT_MODELS}


def test_every_error_code_the_websocket_api_answers_is_documented(document):
    from session_protocol.events import ERROR_CODES

    documented = set(document["components"]["schemas"]["ErrorEvent"]["properties"]["code"]["enum"])
    assert documented == set(ERROR_CODES)

    def subclasses(cls: type) -> set[type]:
        return {cls, *(s for sub in cls.__subclasses__() for s in subclasses(sub))}

    import connection_handler.actions  # noqa: F401  (defines CONNECTION_NOT_FOUND)
    import session_protocol.frames  # noqa: F401  (defines INVALID_ACTION)

    # Refusals only the HTTP API (or only the handshake) gives: a bad token on $connect is a listener, not
    # an error; artifacts and idempotency keys are HTTP-only; the handshake's own codes are in `x-handshake`.
    not_an_event = {
        "UNAUTHORIZED",
        "ARTIFACT_NOT_FOUND",
        "IDEMPOTENCY_KEY_REUSED",
        "INVALID_SESSION_ID",
        "SESSION_FULL",
    }
    codes = {cls.code for cls in subclasses(domain_errors.DomainError)}
    assert codes - not_an_event <= documented, codes - not_an_event - documented
    handshake = {(r["status"], r["code"]) for r in document["channels"]["session"]["x-handshake"]["refusals"]}
    assert {
        (400, "INVALID_SESSION_ID"),
        (403, "FORBIDDEN"),  # a banned user or name (kick {ban: true})
        (404, "SESSION_NOT_FOUND"),
        (410, "SESSION_ENDED"),
        (429, "SESSION_FULL"),
    } <= handshake


def test_the_connect_url_documents_the_query_the_handshake_reads(document):
    from session_schema.ids import SESSION_ID_INPUT_PATTERN

    query = document["channels"]["session"]["bindings"]["ws"]["query"]
    assert query["required"] == ["sessionId"] and set(query["properties"]) == {"sessionId", "token", "v", "channel"}
    assert query["properties"]["sessionId"]["pattern"] == SESSION_ID_INPUT_PATTERN


# ------------------------------------------------------------------ what the handler really sends


def test_every_message_says_which_protocol_version_introduced_it(document):
    from session_protocol.versions import BATCH, FIRST, PRESENCE

    introduced = {key: m["x-protocol-version"] for key, m in document["channels"]["session"]["messages"].items()}
    assert introduced.pop("batch") == BATCH
    for pushed in ("presenceChanged", "reactions", "kicked"):
        assert introduced.pop(pushed) == PRESENCE, pushed
    assert set(introduced.values()) == {FIRST}


def test_every_answer_and_push_of_a_whole_session_conforms(document, handlers):
    check = Conformance(document)
    session_id = handlers.create("owner-1", maxListeners=5)["sessionId"]
    speaker = handlers.connected(session_id, user="owner-1")
    listener = handlers.connected(session_id)
    batching = handlers.connect(session_id, v="2").connection_id  # gets the end's two events in one `batch`

    assert check.answer("join", handlers.act(listener, "join")) == "joined"
    assert check.answer("join", handlers.act(speaker, "join")) == "joined"
    assert check.answer("ping", handlers.act(listener, "ping")) == "pong"
    assert check.answer("broadcast", handlers.act(speaker, "broadcast", data={"slide": 3})) == "broadcastSent"
    assert check.answer("sendMessage", handlers.act(speaker, "sendMessage", text="hello")) == "message"
    assert check.answer("history", handlers.act(listener, "history", since=0.0, limit=10.0)) == "history"
    for action in ("mute", "unmute", "pause", "resume"):
        assert check.answer(action, handlers.act(speaker, action)) == "sessionUpdated"
    # refusals: a listener's speaker action, an unknown action, a bad field, an illegal move
    refusals = [
        ("broadcast", handlers.act(listener, "broadcast", data=1), "FORBIDDEN"),
        ("history", handlers.act(listener, "history", limit=0), "VALIDATION_ERROR"),
        ("resume", handlers.act(speaker, "resume"), "INVALID_TRANSITION"),
        ("ping", handlers.send(listener, {"action": "dance"}, route_key="$default"), "INVALID_ACTION"),
    ]
    for action, answer, code in refusals:
        assert check.answer(action, answer) == "error" and answer["code"] == code, answer
    assert check.answer("end", handlers.act(speaker, "end")) == "sessionEnded"

    for connection in (speaker, listener, batching):
        for pushed in handlers.received(connection):
            check.event(pushed)
    assert {"broadcast", "message", "sessionUpdated", "sessionEnded", "listenerCount", "batch"} <= check.types_seen


@pytest.mark.parametrize(
    "case",
    ["INVALID_SESSION_ID", "SESSION_NOT_FOUND", "SESSION_ENDED", "SESSION_FULL", "VALIDATION_ERROR", "INVALID_CHANNEL"],
)
def test_every_refused_handshake_is_a_documented_status_and_body(document, handlers, case):
    refusals = {r["code"]: r["status"] for r in document["channels"]["session"]["x-handshake"]["refusals"]}
    session_id = handlers.create("owner-1", maxListeners=1)["sessionId"]
    if case == "SESSION_ENDED":
        handlers.http("DELETE", f"/sessions/{session_id}", user="owner-1")
    if case == "SESSION_FULL":
        handlers.connected(session_id)
    target = {"INVALID_SESSION_ID": "not an id!", "SESSION_NOT_FOUND": "quiet-river-000"}.get(case, session_id)
    query = {"VALIDATION_ERROR": {"v": "two"}, "INVALID_CHANNEL": {"channel": "de"}}.get(case, {})
    handshake = handlers.connect(target, **query)
    assert (handshake.status, handshake.code) == (refusals[case], case)
    _schema_check(document, "ErrorResponse", {"error": handshake.error})
