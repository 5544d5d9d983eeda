"""The names of the handlers' metrics that alarms and the dashboard read (infra/alarms.py, infra/dashboard.py).

One spelling for the code that emits and the stack that watches; tests/infra checks that each is emitted.
Every metric carries the `service` dimension (POWERTOOLS_SERVICE_NAME); those counted by a code or reason
(`observability.count_by`) carry theirs too.
"""

from __future__ import annotations

from typing import Final

HANDLER_ERRORS: Final = "HandlerErrors"  # WebSocket: an INTERNAL_ERROR or SERVICE_UNAVAILABLE answer, or a failure
ERROR: Final = "Error"  # HTTP: one per error answer, by ERROR_CODE
ERROR_CODE: Final = "ErrorCode"
JOIN_REFUSED: Final = "JoinRefused"  # WebSocket: a refused $connect, by REASON (the contract's code)
REASON: Final = "Reason"
CONNECTED: Final = "Connected"
DISCONNECTED: Final = "Disconnected"
BAD_DISCONNECT_MESSAGES: Final = "BadDisconnectMessages"  # disconnect queue messages that are not one (dropped)
BROADCASTS: Final = "Broadcasts"
BROADCAST_DELIVERIES: Final = "BroadcastDeliveries"
ACTIONS_REFUSED: Final = "ActionsRefused"
BROADCAST_FANOUT_MS: Final = "BroadcastFanoutMs"  # one broadcast's fan-out, seq claimed to last post answered
FANOUT_FAILED: Final = "FanoutFailed"  # posts that failed (not 410) after their retries
FANOUT_DISPATCH_FAILED: Final = "FanoutDispatchFailed"  # a shard's async invoke failed (the caller served it)
FANOUT_SHARD_FAILED: Final = "FanoutShardFailed"  # a fan-out worker could not serve its shard (Lambda retries)
FANOUT_HANDED_OVER: Final = "FanoutHandedOver"  # a fan-out whose reads stayed throttled, handed to the worker
NOTIFY_FAILED: Final = "NotifyFailed"  # a state change's fan-out that failed as a whole
SLOW_CONSUMER_CLOSED: Final = "SlowConsumerClosed"
RATE_LIMITED_ACTIONS: Final = "RateLimitedActions"
REACTIONS_DROPPED: Final = "ReactionsDropped"  # reactions dropped: past their connection's action budget, or throttled
GHOST_CONNECTIONS: Final = "GhostConnections"
LISTENER_COUNTS_REPAIRED: Final = "ListenerCountsRepaired"

# HTTP error codes that are faults (an operator's problem), not refusals of a request.
FAULT_CODES: Final = ("INTERNAL_ERROR", "SERVICE_UNAVAILABLE")
# The reasons a $connect is refused (the dashboard plots each).
JOIN_REFUSAL_REASONS: Final = (
    "SESSION_FULL",
    "SESSION_ENDED",
    "SESSION_NOT_FOUND",
    "INVALID_SESSION_ID",
    "RATE_LIMITED",
    "SERVICE_UNAVAILABLE",
)
