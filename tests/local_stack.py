"""The local stack with the real handlers, as the end-to-end, fuzz and attack tests start it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from local.stack import LocalStack


@contextmanager
def running_local_stack(**options: Any) -> Iterator[LocalStack]:
    """Free ports, a temporary state dir and no periodic sweep unless `options` say otherwise. Fails the
    test, naming the reason, when a handler cannot be imported (the stack would answer every call 502)."""
    local = LocalStack(**{"http_port": 0, "ws_port": 0, "state_dir": None, "sweep_interval": None, **options})
    with local:
        missing = {name: why for name, why in local.handler_status.items() if why}
        if missing:
            pytest.fail(f"handlers not importable: {missing}")
        yield local
