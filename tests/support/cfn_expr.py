"""Helpers to read CloudFormation expressions in a synthesized template."""

from __future__ import annotations

from typing import Any


def flatten(value: Any) -> str:
    """A CFN string expression as text: Ref -> <Id>, GetAtt -> <Id.Attr>, Fn::Join concatenated."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return f"<{arg}>"
        if fn == "Fn::GetAtt":
            return f"<{'.'.join(arg) if isinstance(arg, list) else arg}>"
        if fn == "Fn::Join":
            separator, parts = arg
            return separator.join(flatten(part) for part in parts)
    raise AssertionError(f"not a string expression: {value!r}")


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def ref(logical_id: str) -> dict:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str = "Arn") -> dict:
    return {"Fn::GetAtt": [logical_id, attribute]}
