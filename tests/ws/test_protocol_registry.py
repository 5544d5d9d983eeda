"""Each WebSocket action is declared once (session_protocol/frames.py `@ws_action`), and everything else follows.

- Adding an action to the registry, and its function to the dispatch table, is all the server needs: the
  parser, the speaker-only check, the read budget, the dispatch and the AsyncAPI document take it.
- The HTTP function builds `/asyncapi.json` without importing the WebSocket handler's package.
- No action's name is spelled anywhere in lambdas/ but its frame model and the deploy-time route list.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Literal

import pytest

from session_protocol import asyncapi, events, frames
from session_protocol.registry import ActionRegistry
from session_schema.errors import Forbidden
from session_schema.routes import WS_ACTIONS

ROOT = Path(__file__).resolve().parents[2]
LAMBDAS = ROOT / "lambdas"


def _with_shout() -> tuple[ActionRegistry, type[frames.Frame]]:
    """The registry plus a throwaway speaker action, `shout`, that reads the table twice."""
    registry = frames.ACTIONS.copy()

    @registry.action(answers=(events.PongEvent,), speaker_only=True, reads=2)
    class ShoutFrame(frames.Frame):
        """say `text` loudly (a throwaway action of this test)"""

        action: Literal["shout"]
        text: str

    return registry, ShoutFrame


def test_adding_an_action_to_the_registry_is_all_the_server_needs(ws, tmp_path):
    from connection_handler import actions

    registry, shout_frame = _with_shout()
    assert "shout" not in frames.ACTIONS  # the real registry is untouched
    assert registry.names == (*WS_ACTIONS, "shout")
    assert registry.speaker_only == frames.ACTIONS.speaker_only | {"shout"}
    assert registry.reads("shout") == 2

    dispatch = actions.DISPATCH.copy(registry)
    assert dispatch.missing() == ["shout"]
    with pytest.raises(RuntimeError, match="shout"):
        dispatch.check_complete()

    @dispatch.action(shout_frame)
    def shout(runtime, caller: actions.ConnectionCaller, frame) -> dict:
        return events.pong(len(frame.text))

    dispatch.check_complete()
    frame = frames.parse_frame("shout", json.dumps({"action": "shout", "text": "hey", "id": "s1"}), actions=registry)
    assert isinstance(frame, shout_frame) and frame.id == "s1"
    with pytest.raises(frames.FrameRefused) as refused:
        frames.parse_frame("shout", json.dumps({"action": "shout", "text": 3}), actions=registry)
    assert refused.value.refusal.field == "text"

    session = ws.create_session(owner="owner-1")
    speaker = ws.connected(session.sessionId, user="owner-1")
    listener = ws.connected(session.sessionId)
    assert actions.perform(ws.runtime, speaker, frame, dispatch) == {"type": "pong", "ts": 3}
    with pytest.raises(Forbidden):
        actions.perform(ws.runtime, listener, frame, dispatch)

    document = asyncapi.document(registry)
    operation = document["operations"]["shout"]
    assert operation["tags"] == [{"name": "speaker"}]
    assert operation["summary"] == "say `text` loudly (a throwaway action of this test)"
    assert [m["$ref"].rsplit("/", 1)[1] for m in operation["reply"]["messages"]] == ["pong", "error"]
    assert document["channels"]["session"]["messages"]["shoutAction"]["payload"] == {
        "$ref": "#/components/schemas/ShoutFrame"
    }
    assert "shout" not in asyncapi.document()["operations"]
    _the_asyncapi_parser_accepts(document, tmp_path)


def _the_asyncapi_parser_accepts(document: dict, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node (20+) is needed: it runs the AsyncAPI parser"
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(document))
    validator = ROOT / "tools" / "asyncapi" / "validate.mjs"
    run = subprocess.run([node, str(validator), str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["errors"] == [] and report["warnings"] == []


def test_the_http_function_builds_the_asyncapi_document_without_the_websocket_handler():
    probe = (
        "import sys, http_session_handler.app\n"
        "from http_session_handler import meta\n"
        "assert meta._asyncapi_document()['operations']\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'connection_handler'))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(LAMBDAS)}
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


# ------------------------------------------------------------------ one spelling of each action's name

ROUTE_LIST = LAMBDAS / "session_schema" / "routes.py"
FRAMES = LAMBDAS / "session_protocol" / "frames.py"
EVENTS = LAMBDAS / "session_protocol" / "events.py"


def _declared_field(tree: ast.Module, field: str) -> set[int]:
    """ids of the constants in `<field>: Literal["x"] = "x"` lines of the module's classes."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == field:
            found |= {id(c) for c in ast.walk(node) if isinstance(c, ast.Constant)}
    return found


def spelled_action_names(source: str, path: Path, names: set[str]) -> list[str]:
    """`file:line name` of each string constant naming an action, except the declarations: the route list,
    a frame model's `action` literal, and an event's `type` that happens to share the name (`history`)."""
    tree = ast.parse(source)
    allowed: set[int] = set()
    if path == ROUTE_LIST:
        return []
    if path == FRAMES:
        allowed = _declared_field(tree, "action")
    if path == EVENTS:
        allowed = _declared_field(tree, "type")
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in names and id(node) not in allowed
    ]


# Also a word of the contract's elsewhere: `presence` is the session setting (POST/PATCH field) and its record field.
ALSO_FIELD_NAMES = {"presence"}


def test_no_action_name_is_spelled_outside_the_registry_and_the_route_list():
    names = set(WS_ACTIONS) - ALSO_FIELD_NAMES
    spelled = [
        hit for path in sorted(LAMBDAS.rglob("*.py")) for hit in spelled_action_names(path.read_text(), path, names)
    ]
    assert spelled == []


def test_the_spelling_check_finds_a_name_spelled_by_hand():
    names = set(WS_ACTIONS)
    handler_code = 'if frame.action == "broadcast":\n    pass\nSPEAKER = {"end", "mute"}\n'
    assert len(spelled_action_names(handler_code, LAMBDAS / "connection_handler" / "x.py", names)) == 3
    frame_code = 'class F:\n    action: Literal["end"]\n    note: str = "end"\n'
    assert spelled_action_names(frame_code, FRAMES, names) == ["lambdas/session_protocol/frames.py:3 end"]
