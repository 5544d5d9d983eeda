"""Keep the embedded moto's memory the size of its tables, not of everything it ever made.

moto's BaseModel appends every instance of every model to its class's `instances_tracked` list, for moto's own
dashboard, and never lets go: every DynamoDB `Item` (the stored ones, and each transient one: a transaction's backup,
a Query's projected copy, an update's old image), every stream record. A local stack that serves a fan-out Query
of a thousand connections per broadcast keeps a thousand more Items each time. Its memory grows without bound, and
so does each full garbage collection of its process, which stops every request it serves: measured on a 500-listener
fan-out, a pause of 100 to 500 ms every few seconds, growing as it ran (each pause a slow broadcast, bench/fanout.py).
The stack never asks for the dashboard; here no instance is tracked, so a model no longer referenced is freed.
Applied once per process (the embedded server's).
"""

from __future__ import annotations

from typing import Any

_applied = False


def forget_model_instances() -> None:
    global _applied
    if _applied:
        return
    from moto.core.common_models import BaseModel

    def untracked(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)

    BaseModel.__new__ = staticmethod(untracked)  # type: ignore[assignment, method-assign]
    _applied = True


# A full collection walks every object the process holds: moto's tables and stream records, as they grow (a
# 2,000-listener session's are about 250,000 objects: a pause of 150 to 250 ms, each a late broadcast). What survives
# a full collection is the tables' live data, and serving requests makes little cyclic garbage (items, answers and
# records are freed by reference counting, frozen or not). So start-up's objects, then each full collection's
# survivors, are frozen (`gc.freeze`): the next full collection walks only what was made since. Full collections are
# also put off (FULL_COLLECTION_EVERY young ones each, Python's default is 10); the young generations are collected
# as usual. A reference cycle among frozen objects stays (a request in flight during a full collection): bounded by
# the collections, a few objects each.
FULL_COLLECTION_EVERY = 100


def collect_less_often() -> None:
    """Once start-up is over (moto's modules and botocore's service models loaded)."""
    import gc

    def freeze_survivors(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    gc.collect()
    gc.freeze()
    young, middle, _full = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
    gc.callbacks.append(freeze_survivors)
