"""Reactions: each listener's `react` ADDed to the session's reactions slot (exact, whichever execution environment
takes the frame), and sent added up as `reactions {counts, from, to}` at most once a second
(session_runtime/conflation.py) to the speaker, or to everyone when the session's `reactions` is `public`.

One UpdateItem per reaction is what exactness across environments costs: an environment's own tally could not be
sent by a frozen environment. A connection's reactions are bounded by its action budget (session_runtime/budget.py,
connection_handler/app.py): what exceeds it is dropped and counted (`ReactionsDropped`), never written. So is a
reaction whose write DynamoDB throttled (`react`).
"""

from __future__ import annotations

from session_schema.models import Connection
from session_store.aws_errors import is_throttle

from . import presence
from .fanout import Fanout
from .runtime import Runtime


def react(runtime: Runtime, connection: Connection, reaction: str) -> bool:
    """Count the reaction into its session's slot: False when DynamoDB throttled that write (the reaction dropped,
    for the caller to count as a budget drop is). Every reaction of a session writes the one slot item, so past
    the write rate of one partition key the excess is dropped, never an error storm. A throttle after the count
    was written (the claim, the trailing mark) is no drop: the count waits in the slot for the next claim (the
    trailing notice already marked, or the next reaction's)."""
    notices, session_id = runtime.notices, connection.sessionId
    now = notices.clock()
    try:
        slot = notices.record(session_id, "reactions", {reaction: 1}, now=now, add=True, keep=False)
    except Exception as error:
        if not is_throttle(error):
            raise
        return False
    try:
        notices.settle(session_id, "reactions", slot, now)
    except Exception as error:
        if not is_throttle(error):
            raise
    return True


def send_notice(fanout: Fanout, session_id: str, pending: dict[str, int], since: int, now: int) -> None:
    """The reactions taken from the slot, added up, to the session's reactions audience."""
    from session_protocol import events

    counts = {reaction: count for reaction, count in pending.items() if count > 0}
    session = presence.session_of(fanout, session_id)
    if not counts or session is None or not session.joinable:
        return
    presence.to_audience(fanout, session, session.reactions, events.reactions(counts, since, now))
