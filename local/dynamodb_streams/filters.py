"""Lambda's event filtering (the EventBridge pattern syntax) on a stream record, for the patterns the stack
declares: a field's pattern is a list of alternatives, each a value (equal), `{"prefix": s}` or
`{"exists": bool}`; nested objects match nested fields, through arrays as EventBridge flattens them (a field of
an array's objects matches when one element's does); a record matches when any pattern does."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

_ABSENT = object()


def _alternative(rule: Any, value: Any) -> bool:
    if isinstance(rule, Mapping):
        if "exists" in rule:
            return bool(rule["exists"]) == (value is not _ABSENT)
        if "prefix" in rule:
            return isinstance(value, str) and value.startswith(rule["prefix"])
        raise ValueError(f"filter rule not supported locally: {rule!r}")
    return value is not _ABSENT and value == rule


def _matches(pattern: Mapping[str, Any], document: Any) -> bool:
    if isinstance(document, list):
        return any(_matches(pattern, element) for element in document)
    for name, rule in pattern.items():
        value = document.get(name, _ABSENT) if isinstance(document, Mapping) else _ABSENT
        if isinstance(rule, Mapping):
            if not _matches(rule, value):
                return False
        elif not any(_alternative(alternative, value) for alternative in rule):
            return False
    return True


def matches_any(patterns: Iterable[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """True when the record passes the mapping's filter criteria (no patterns: every record does)."""
    patterns = list(patterns)
    return not patterns or any(_matches(pattern, record) for pattern in patterns)
