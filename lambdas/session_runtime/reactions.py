"""Reactions: each listener's `react` ADDed to the session's reactions slot (exact, whichever execution environment
takes the frame), and sent added up as `reactions {counts, from, to}` at most once a second
(session_runtime/conflation.py) to the speaker, or to everyone when the session's `reactions` is `public`.

One UpdateItem per reaction is what exactness across environments costs: an environment's own tally could not be
sent by a frozen environment. A connection's reactions are bounded by its action budget (session_runtime/budget.py,
connection_handler/app.py): what exceeds it is dropped and counted (`ReactionsDropped`), never written.
"""

from __future__ import annotations

from session_schema.models import Connection

from . import presence
from .fanout import Fanout
from .runtime import Runtime


def react(runtime: Runtime, connection: Connection, reaction: str) -> None:
    runtime.notices.changed(connection.sessionId, "reactions", {reaction: 1}, add=True)


def send_notice(fanout: Fanout, session_id: str, pending: dict[str, int], since: int, now: int) -> None:
    """The reactions taken from the slot, added up, to the session's reactions audience."""
    from session_protocol import events

    counts = {reaction: count for reaction, count in pending.items() if count > 0}
    session = presence.session_of(fanout, session_id)
    if not counts or session is None or not session.joinable:
        return
    presence.to_audience(fanout, session, session.reactions, events.reactions(counts, since, now))
