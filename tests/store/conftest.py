"""Every request a store test sends through the moto client names only attributes the schema declares (or, in
the guard on a legacy item's rewrite, the attributes older code wrote): the builder's names, checked where they
meet DynamoDB, across every operation and refusal these tests drive."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from session_store.legacy import KNOWN_ATTRIBUTES


def _named(params: Any) -> Iterator[str]:
    """The attribute names of every ExpressionAttributeNames in a request (transaction parts included); a name
    used only after a dot is a map's entry (`#channelCounts.#es`), data rather than an attribute."""
    if isinstance(params, dict):
        expressions = " ".join(v for k, v in params.items() if k.endswith("Expression") and isinstance(v, str))
        for placeholder, name in params.get("ExpressionAttributeNames", {}).items():
            as_entry = re.findall(r"\.?" + re.escape(placeholder) + r"\b", expressions)
            if not as_entry or not all(use.startswith(".") for use in as_entry):
                yield name
        for value in params.values():
            yield from _named(value)
    elif isinstance(params, list):
        for value in params:
            yield from _named(value)


@pytest.fixture(autouse=True)
def only_declared_attributes_reach_dynamodb(request: pytest.FixtureRequest) -> Iterator[None]:
    if "ddb" not in request.fixturenames:
        yield
        return
    client = request.getfixturevalue("ddb")
    named: set[str] = set()

    def record(params: dict[str, Any], **_: Any) -> None:
        named.update(_named(params))

    client.meta.events.register("provide-client-params.dynamodb", record)
    try:
        yield
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb", record)
    # A module may name the keys of map entries its writes move (channel names in `channelCounts.<channel>`): data,
    # not attributes.
    allowed = KNOWN_ATTRIBUTES | set(getattr(request.module, "MAP_KEYS", ()))
    assert named - allowed == set(), f"sent undeclared attributes {sorted(named - allowed)}"
