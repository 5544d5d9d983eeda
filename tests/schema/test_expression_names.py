"""Every attribute an update, condition or key expression of the store names is one the schema declares.

DynamoDB takes a misspelt attribute without complaint: `listnerCount < maxListeners` is simply false, so every
join would be refused as "full". The codec's changes name fields checked against the models; this checks the
expressions still written out in the store's modules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from session_schema import codec, keys

SCHEMA = Path(__file__).resolve().parents[2] / "lambdas" / "session_schema"
DECLARED = (
    {name for model in codec.MODEL_OF.values() for name in model.model_fields}
    | set(keys.TABLE.key_attributes())
    | {keys.KIND_ATTRIBUTE}
)
GRAMMAR = {"AND", "OR", "NOT", "IN", "BETWEEN", "SET", "ADD", "REMOVE", "DELETE"}
FUNCTIONS = {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains", "size"}


def _expression_literals(path: Path) -> list[str]:
    """The string constants (f-string parts too) that hold expression text: they use a `:value` placeholder
    or an attribute function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if re.search(r"(=|<|>|<>|\bIN\b|\bBETWEEN\b|\bADD\b|\bSET\b) *\(?:\w", text) or "attribute_" in text:
                found.append(text)
    return found


@pytest.mark.parametrize("module", ["store.py", "dynamo.py", "legacy.py"])
def test_every_attribute_named_in_an_expression_is_declared(module: str) -> None:
    literals = _expression_literals(SCHEMA / module)
    named = {
        word
        for text in literals
        for word in re.findall(r"(?<![:#\w])([A-Za-z_]\w*)", text)
        if word not in GRAMMAR | FUNCTIONS
    }
    assert named - DECLARED == set(), f"{module} names undeclared attributes {sorted(named - DECLARED)}"


def test_the_check_sees_the_store_expressions() -> None:
    literals = " ".join(_expression_literals(SCHEMA / "store.py"))
    for name in ("listenerCount", "maxListeners", "speakerConnectionId", "seq", "expiresAt"):
        assert re.search(rf"\b{name}\b", literals), name
