"""Hooks of the schemathesis run (tests/e2e/schemathesis.toml), imported by the schemathesis CLI."""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis import GenerationMode


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    """A pagination `cursor` is opaque: only a `nextCursor` that listing issued is one, so a generated string
    that fits the documented length is a clear 400 VALIDATION_ERROR naming `cursor` (tests/http and
    tests/store check that), never a page. A positive case asks for the first page instead; negative
    cases keep their cursors, and the tampered-cursor tests keep the 400."""
    meta = case.meta
    if meta is not None and meta.generation.mode is GenerationMode.POSITIVE and case.query:
        case.query.pop("cursor", None)
