"""One helper for the local stack's patches that put a library's shared state behind a lock."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable


def serialize_methods(cls: type, names: Iterable[str], lock: threading.RLock) -> None:
    """Replace each named method of `cls` (those it has) by one that runs under `lock`."""
    for name in names:
        original = getattr(cls, name, None)
        if original is None:
            continue

        @functools.wraps(original)
        def locked(self, *args, _original=original, **kwargs):
            with lock:
                return _original(self, *args, **kwargs)

        setattr(cls, name, locked)
