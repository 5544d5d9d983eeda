"""A field added to a record and named in its PUBLIC_FIELDS / OWNER_FIELDS (models.py, nothing else) is in its
views, in what the record sends, and in both API documents."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

from pydantic import Field, StringConstraints

from session_schema import views
from session_schema.models import Session

ROOT = Path(__file__).resolve().parents[2]

_COLOUR_FIELD = (
    '    colour: Annotated[str, StringConstraints(pattern=r"^[a-z]{3,10}$"), Field(description="the badge")] = "blue"\n'
)


class ColouredSession(Session):
    colour: Annotated[str, StringConstraints(pattern=r"^[a-z]{3,10}$"), Field(description="the badge")] = "blue"
    PUBLIC_FIELDS = (*Session.PUBLIC_FIELDS, "colour")
    OWNER_FIELDS = (*Session.OWNER_FIELDS, "colour")


def _session(**fields: object) -> ColouredSession:
    return ColouredSession(
        sessionId="quiet-river-482", ownerId="alice", maxListeners=5, epoch="e1", createdAt=1, updatedAt=1, **fields
    )


def test_a_record_with_one_more_public_field_shows_it_in_its_derived_views() -> None:
    public = views.derive_view(ColouredSession, ColouredSession.PUBLIC_FIELDS, name="P", doc="public")
    owner = views.derive_view(ColouredSession, ColouredSession.OWNER_FIELDS, name="O", doc="owner")
    for model in (public, owner):
        schema = model.model_json_schema()
        assert schema["properties"]["colour"] == {
            "description": "the badge",
            "pattern": "^[a-z]{3,10}$",
            "title": "Colour",
            "type": "string",
        }
        assert "colour" in schema["required"]
    session = _session(colour="green")
    assert session.public_view()["colour"] == "green"
    assert public.model_validate(session.public_view()).model_dump()["colour"] == "green"
    assert owner.model_validate(session.owner_view()).model_dump()["speakerConnected"] is False


def test_the_views_carry_exactly_the_declared_fields_in_order() -> None:
    session = _session()
    assert list(views.SessionPublicView.model_fields) == list(Session.PUBLIC_FIELDS)
    assert list(views.SessionOwnerView.model_fields) == list(Session.OWNER_FIELDS)
    assert list(Session.model_validate(session.model_dump(exclude={"colour"})).owner_view()) == list(
        Session.OWNER_FIELDS
    )


def test_a_field_added_only_in_models_py_reaches_both_documents(tmp_path: Path) -> None:
    """The real change a developer makes: one field and its name in PUBLIC_FIELDS, in a copy of models.py;
    the copy's HTTP app and WebSocket document, built in a fresh interpreter, show it."""
    code = tmp_path / "lambdas"
    shutil.copytree(ROOT / "lambdas", code, ignore=shutil.ignore_patterns("__pycache__"))
    models = code / "session_schema" / "models.py"
    text = models.read_text(encoding="utf-8")
    anchor = "    muted: bool = False\n"
    assert text.count(anchor) == 1 and text.count('"maxListeners", "seq", "epoch",') == 1
    text = text.replace(anchor, anchor + _COLOUR_FIELD, 1)
    text = text.replace('"maxListeners", "seq", "epoch",', '"maxListeners", "seq", "epoch", "colour",', 1)
    models.write_text(text, encoding="utf-8")
    probe = """
import json
from http_session_handler import openapi
from http_session_handler.app import create_app
from session_protocol import asyncapi
from session_schema.settings import load_settings
http = openapi.document(create_app(), load_settings())["components"]["schemas"]
ws = asyncapi.document()["components"]["schemas"]
print(json.dumps({name: http[name]["properties"].get("colour") for name in ("SessionPublicView", "SessionOwnerView")}))
print(json.dumps(ws["SessionPublicView"]["properties"].get("colour")))
"""
    env = {**os.environ, **_settings_env(), "PYTHONPATH": str(code), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    http_line, ws_line = result.stdout.strip().splitlines()[-2:]
    colour = {"description": "the badge", "pattern": "^[a-z]{3,10}$", "title": "Colour", "type": "string"}
    assert json.loads(http_line) == {"SessionPublicView": colour, "SessionOwnerView": colour}
    assert json.loads(ws_line) == colour  # what joined / sessionUpdated / sessionEnded carry


def _settings_env() -> dict[str, str]:
    from session_schema.settings import stack_environment

    return stack_environment(
        {
            "TABLE_NAME": "t",
            "ARTIFACTS_BUCKET": "b",
            "EVENT_BUS_NAME": "e",
            "WS_CALLBACK_URL": "https://example.execute-api.us-east-1.amazonaws.com/test",
            "JWT_ISSUER": "https://issuer.example",
            "JWT_AUDIENCE": "aud",
            "CURSOR_KEY_SECRET": "cursor-secret",
        }
    )
