"""The legacy upgrade: items older code wrote are rewritten in canonical form the first time a write meets one.

Conditions name canonical attributes; an unmigrated item lacks them, so a conditional write on it would be
refused for the wrong reason. `upgrades_legacy_items` runs such a write again after `upgrade_if_legacy` made the
item canonical (guarded on it being unchanged). session_store/migrate.py upgrades a whole table the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from botocore.exceptions import ClientError

from session_schema import codec
from session_schema.errors import ConcurrentUpdate

from . import expressions as ex
from .aws_errors import is_condition_failure

P = ParamSpec("P")
R = TypeVar("R")
MAX_UPGRADE_ATTEMPTS = 3


# Every attribute any writer of this table sets, older code included: a guarded rewrite also requires the ones
# not read to be absent.
KNOWN_ATTRIBUTES = ex.DECLARED | {"isActive", "requestId"}


def unchanged_condition(item: Mapping[str, Any]) -> dict[str, Any]:
    """A condition that holds only while every attribute is as it was read (none changed, none added)."""
    same = [ex.stored(name).eq(ex.Raw(value)) for name, value in sorted(item.items())]
    added = [ex.stored(name).absent() for name in sorted(KNOWN_ATTRIBUTES - set(item))]
    return ex.params(condition=ex.every([*same, *added]))


class LegacyItemUpgraded(Exception):
    """A write was refused by an item in a shape older code wrote; it is canonical now, so try again."""


def upgrades_legacy_items(method: Callable[P, R]) -> Callable[P, R]:
    """Run a write again after it met (and upgraded) a legacy item.

    Conditions name canonical attributes (`status`, `maxListeners`), which an unmigrated item lacks: read,
    it normalizes fine, but every conditional write on it would be refused for the wrong reason (a join
    "full", a pause "changed meanwhile"). The store rewrites such an item in canonical form, guarded on it
    being unchanged, and the whole operation starts over from a fresh read.
    """

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for _ in range(MAX_UPGRADE_ATTEMPTS):
            try:
                return method(*args, **kwargs)
            except LegacyItemUpgraded:
                continue  # the item is canonical now (or someone changed it): start over from a fresh read
        raise ConcurrentUpdate("a legacy record")

    return wrapper


def upgrade_if_legacy(client: Any, table_name: str, old_item: Mapping[str, codec.AttributeValue] | None) -> None:
    """Rewrite a refused write's item in canonical form when older code wrote it, then raise LegacyItemUpgraded
    (the caller starts over from a fresh read); nothing when the item is canonical or absent."""
    if not old_item or codec.is_canonical(old_item):
        return
    try:
        client.put_item(TableName=table_name, Item=codec.canonical_item(old_item), **unchanged_condition(old_item))
    except ClientError as error:
        if not is_condition_failure(error):
            raise
        # Someone else changed (or upgraded) it meanwhile: the fresh read of the retry sees that.
    raise LegacyItemUpgraded()
