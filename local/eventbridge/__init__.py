"""EventBridge for the local stack: the stack's bus (PutEvents on a port of its own), the events it was put
kept in the state dir for `python -m local events`, and the webhook an API destination would POST to.

Entry points for the rest of `local/` are `__all__`; `bus` is this service's internal module.
"""

from __future__ import annotations

from .bus import EVENTS_FILE, WEBHOOK_KEY, WEBHOOK_KEY_HEADER, LocalEventBus, read_events

__all__ = ["EVENTS_FILE", "WEBHOOK_KEY", "WEBHOOK_KEY_HEADER", "LocalEventBus", "read_events"]
