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
    if meta is None or meta.generation.mode is not GenerationMode.POSITIVE:
        return
    if case.query:
        case.query.pop("cursor", None)
        # A stream's `channel` likewise names one the session declared (a generated session declares none):
        # else 400 INVALID_CHANNEL naming it (tests/http). A positive case reads the session stream instead.
        case.query.pop("channel", None)
    # Likewise a publish's `channel`: a well-formed name is still one the session must have declared (a
    # generated session declares none), else 400 INVALID_CHANNEL naming it (tests/http/test_broadcasts.py).
    # A positive case publishes to the whole session instead.
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        for event in body["events"]:
            if isinstance(event, dict):
                event.pop("channel", None)
