"""Helpers to read CloudFormation expressions in a synthesized template (flattening one to text is
`infra.nag.flatten`, the one cdk-nag's findings are matched with)."""

from __future__ import annotations

from typing import Any


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def ref(logical_id: str) -> dict:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str = "Arn") -> dict:
    return {"Fn::GetAtt": [logical_id, attribute]}
