"""A publish that lands while a resuming join replays: between its hold and each of its release checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def publishing_before_each_release(store: Any, publish: Callable[[], object], times: int = 2) -> Iterator[None]:
    """While inside, `publish()` runs just before each of the first `times` release checks of a resuming join (so
    its fan-out meets the held connection and the release finds the head moved)."""
    real_release = store.release_connection
    left = [times]

    def release(head: Any, connection: Any, channel_seq: int | None = None) -> Any:
        if left[0]:
            left[0] -= 1
            publish()  # its fan-out skips the held connection
        return real_release(head, connection, channel_seq)

    store.release_connection = release
    try:
        yield
    finally:
        del store.release_connection
