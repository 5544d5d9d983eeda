"""Every DynamoDB expression under lambdas/ is built by session_store/expressions.py, from declared names only.

DynamoDB takes a misspelt attribute without complaint: `listnerCount < maxListeners` is simply false, so every
join would be refused as "full". So no module but expressions.py writes expression text or passes an expression
parameter, and the builder refuses a name no record declares when the handle is made (at import, for the
store's) or when a codec change is rendered. tests/store/conftest.py checks every name the store sends."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from session_schema import codec
from session_schema.models import Artifact, Session
from session_store import expressions as ex

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
BUILDER = LAMBDAS / "session_store" / "expressions.py"
PARAMETERS = {
    "UpdateExpression",
    "ConditionExpression",
    "KeyConditionExpression",
    "ProjectionExpression",
    "FilterExpression",
    "ExpressionAttributeNames",
    "ExpressionAttributeValues",
}
_EXPRESSION_TEXT = re.compile(
    r"(=|<|>|<>|\bIN\b|\bBETWEEN\b|\bADD\b|\bSET\b|\bREMOVE\b) *\(?[:#]\w"  # an operator, then a placeholder
    r"|#\w+ *(=|<|>|\bIN\b|\bBETWEEN\b)"  # a name placeholder, then an operator
    r"|attribute_\w+\("
)


def _hand_written(source: str) -> list[str]:
    """Expression parameters passed by hand (as keywords or dict keys) and string constants that read as
    expression text (a placeholder beside an operator, or an attribute function)."""
    found = []
    tree = ast.parse(source)
    docstrings = {  # prose, never sent: an ARN such as arn:aws:sts::<account>:assumed-role reads like a placeholder
        id(body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and (body := node.body)
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in PARAMETERS:
            found.append(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if node.value in PARAMETERS or _EXPRESSION_TEXT.search(node.value):
                found.append(node.value)
    return found


@pytest.mark.parametrize(
    "path", sorted(p for p in LAMBDAS.rglob("*.py") if p != BUILDER), ids=lambda p: str(p.relative_to(LAMBDAS))
)
def test_no_module_but_the_builder_writes_an_expression(path: Path) -> None:
    assert _hand_written(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "source",
    [
        'client.update_item(UpdateExpression="ADD listenerCount :one")',
        'request = {"ConditionExpression": cond}',
        'condition = "attribute_not_exists(PK)"',
        'condition = f"#status IN ({names})"',
        'text = "listenerCount < :max"',
        'def f():\n    """A docstring."""\n    return "listenerCount < :max"',
    ],
)
def test_the_check_catches_a_hand_written_expression(source: str) -> None:
    assert _hand_written(source) != []


def test_a_misspelt_field_fails_when_its_handle_is_made() -> None:
    with pytest.raises(KeyError, match="listnerCount"):
        ex.field(Session, "listnerCount")
    with pytest.raises(KeyError):
        ex.field(Artifact, "listenerCount")  # a field of another record
    with pytest.raises(KeyError):
        ex.key("GSI9PK")


def test_a_change_naming_an_undeclared_attribute_is_refused_when_rendered() -> None:
    with pytest.raises(KeyError, match="listnerCount"):
        ex.params(update=codec.Changes(set={"listnerCount": codec.value(1)}))
    with pytest.raises(KeyError, match="speakrlessSince"):
        ex.params(update=codec.Changes(remove=["speakrlessSince"]))


def test_one_request_renders_each_name_once_and_each_value_once() -> None:
    listeners, limit = ex.field(Session, "listenerCount"), ex.field(Session, "maxListeners")
    rendered = ex.params(
        update=codec.partial_changes(Session, {"listenerCount": 3}),
        add={ex.field(Session, "seq"): 1},
        condition=ex.ITEM_EXISTS & (listeners.absent() | listeners.lt(limit)) & listeners.eq(3),
    )
    assert rendered == {
        "UpdateExpression": "SET #listenerCount = :v0 ADD #seq :v1",
        "ConditionExpression": (
            "attribute_exists(#PK) AND (attribute_not_exists(#listenerCount) OR #listenerCount < #maxListeners)"
            " AND #listenerCount = :v0"
        ),
        "ExpressionAttributeNames": {
            "#listenerCount": "listenerCount",
            "#seq": "seq",
            "#PK": "PK",
            "#maxListeners": "maxListeners",
        },
        "ExpressionAttributeValues": {":v0": {"N": "3"}, ":v1": {"N": "1"}},
    }


def test_a_stored_attribute_of_any_name_gets_a_valid_placeholder() -> None:
    rendered = ex.params(condition=ex.stored("odd name").eq(ex.Raw({"S": "x"})) & ex.stored("Data").absent())
    assert rendered["ConditionExpression"] == "#n0 = :v0 AND attribute_not_exists(#Data)"
    assert rendered["ExpressionAttributeNames"] == {"#n0": "odd name", "#Data": "Data"}
