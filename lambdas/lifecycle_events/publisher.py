"""Putting lifecycle events on the stack's bus: PutEvents, ten entries a call (its limit), in order."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from session_runtime.observability import logger
from session_schema.lifecycle import SOURCE

from .mapping import LifecycleEvent

PUT_EVENTS_MAX_ENTRIES = 10


class Publisher:
    def __init__(self, client: Any, bus_name: str) -> None:
        if not bus_name:
            raise ValueError("EVENT_BUS_NAME is not set: the lifecycle events function has no bus to put on")
        self.client, self.bus_name = client, bus_name

    def entry(self, event: LifecycleEvent) -> dict[str, Any]:
        return {
            "Source": SOURCE,
            "DetailType": event.detail_type.value,
            "Detail": event.detail_json(),
            "EventBusName": self.bus_name,
            "Time": datetime.fromtimestamp(event.detail.at / 1000, tz=UTC),
        }

    def put(self, events: Sequence[LifecycleEvent]) -> int | None:
        """Put `events` in order; the index of the first one that may not have been put (its call failed, or
        its entry did), else None. Calls after a failure are not made: what follows is put again anyway."""
        for start in range(0, len(events), PUT_EVENTS_MAX_ENTRIES):
            chunk = events[start : start + PUT_EVENTS_MAX_ENTRIES]
            try:
                answer = self.client.put_events(Entries=[self.entry(event) for event in chunk])
            except Exception:  # noqa: BLE001 - any failure of the call: these events are put again later
                logger.exception("PutEvents failed", extra={"events": len(chunk)})
                return start
            if answer.get("FailedEntryCount"):
                failed = [i for i, entry in enumerate(answer["Entries"]) if entry.get("ErrorCode")]
                logger.error("PutEvents refused entries", extra={"entries": [answer["Entries"][i] for i in failed]})
                return start + (failed[0] if failed else 0)
        return None
