"""Conflated notices: at most one of a kind per session a second, and the state after the last change sent
within a bounded delay, with no process living between Lambda invocations.

Each kind of notice of a session (`members`: presence and listenerCount; `reactions`) has a slot item
(`NOTICE#<id>` / `<kind>`, never the session item). A change is recorded in the slot's `pending` map by one
UpdateItem (a connection's change for presence, a count ADDed for reactions: exact, whichever execution environment
writes it). Then:

- the slot was not sent from within the last second: the writer claims it, by a conditional UpdateItem
  (`sentAt` at least a second old, `pending` not empty) that sets `sentAt` and empties `pending`, returning what
  it held (ALL_OLD), and sends the notice. A claim is atomic, so two writers never both send;
- else a trailing notice is scheduled, once per slot (`trailingDue`, set by a conditional write), for when the
  second is over: a message on the notice queue (SQS, `DelaySeconds`), which the fan-out worker function
  receives and claims the slot with. A frozen or finished environment has nothing left to do: what it wrote is
  in the slot, and the queue's message does the rest.

Bounds: a recipient gets at most one notice of a kind a second (two claims are a second apart by the claiming
environments' clocks). The last change reaches them within the second, plus SQS's delay rounding (whole seconds:
the delay is rounded up) and its delivery to the function (measured: `python -m bench presence`). A trailing
message that never comes (lost, or its function failing past the queue's retries) blocks nothing for longer
than STALE_TRAILING_MS: the next change schedules another. A notice whose sending fails after its claim is lost;
the next one carries the state as it is then (counts are read when sent, never accumulated).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from session_schema.models import NoticeSlot
from session_store.store import SessionStore

from .observability import logger

INTERVAL_MS = 1000  # at most one notice of a kind per session in this long
STALE_TRAILING_MS = 10_000  # a trailing notice this overdue never came: another may be scheduled
SLOT_TTL_SECONDS = 3 * 3600  # a slot outlives any connection of its session (API Gateway's 2 h cap)

NoticeKind = Literal["members", "reactions"]
# Sends a claimed notice: (session ID, the pending changes taken, since when they pend (epoch ms), now).
Deliver = Callable[[str, dict[str, int], int, int], None]


class TrailingNotice(BaseModel):
    """The notice queue's message: claim this slot when its second is over."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sessionId: str
    kind: NoticeKind
    due: int  # epoch ms: when the slot may send again


class Scheduler(Protocol):
    def schedule(self, notice: TrailingNotice, delay_seconds: int) -> None: ...


@dataclass
class SqsScheduler:
    """Trailing notices as messages on the notice queue, delayed by SQS (whole seconds, at most 900)."""

    queue_url: str
    client: Callable[[], Any]

    def schedule(self, notice: TrailingNotice, delay_seconds: int) -> None:
        self.client().send_message(
            QueueUrl=self.queue_url, MessageBody=notice.model_dump_json(), DelaySeconds=min(max(delay_seconds, 0), 900)
        )


def delay_seconds(due: int, now: int) -> int:
    """SQS's whole-second delay that is not early: rounded up."""
    return max(0, -(-(due - now) // 1000))


class Conflation:
    def __init__(
        self,
        store: SessionStore,
        scheduler: Scheduler | None,
        deliver: Mapping[str, Deliver],
    ) -> None:
        self.store = store
        self.scheduler = scheduler  # None: nothing trails (a change within the second waits for the next change)
        self.deliver = deliver

    def clock(self) -> int:
        return self.store.clock()

    def changed(
        self, session_id: str, kind: NoticeKind, entries: Mapping[str, int], *, add: bool = False, keep: bool = False
    ) -> None:
        """Record changes of a kind (`add`: counts added; `keep`: set only where none pends), then send the notice
        now if the slot allows, else make sure one trails."""
        now = self.clock()
        self.settle(session_id, kind, self.record(session_id, kind, entries, now=now, add=add, keep=keep), now)

    def record(
        self, session_id: str, kind: NoticeKind, entries: Mapping[str, int], *, now: int, add: bool, keep: bool
    ) -> NoticeSlot:
        """`changed`'s first half: the changes written into the slot (the slot as it is now)."""
        expires_at = now // 1000 + SLOT_TTL_SECONDS
        return self.store.note_change(session_id, kind, entries, now=now, expires_at=expires_at, add=add, keep=keep)

    def settle(self, session_id: str, kind: NoticeKind, slot: NoticeSlot, now: int) -> None:
        """`changed`'s second half, after `record`: the notice sent now if the slot allows, else one trailing."""
        self._settle(session_id, kind, slot, now)

    def trailing(self, notice: TrailingNotice) -> None:
        """The notice queue's message came: the slot no longer waits for it; send what pends, or schedule again."""
        self.store.trailing_done(notice.sessionId, notice.kind, notice.due)
        now = max(self.clock(), notice.due)  # never earlier than it was due: SQS rounds its delay up
        self._settle(notice.sessionId, notice.kind, None, now)

    def _settle(self, session_id: str, kind: NoticeKind, slot: NoticeSlot | None, now: int) -> None:
        if slot is None or slot.sentAt is None or now - slot.sentAt >= INTERVAL_MS:
            claimed, slot = self.store.claim_notice(session_id, kind, now=now, interval_ms=INTERVAL_MS)
            if claimed and slot is not None:
                self.deliver[kind](session_id, dict(slot.pending), slot.pendingSince or now, now)
                return
        if slot is None or not slot.pending:
            return  # nothing pends: someone else sent it
        self._schedule(session_id, kind, slot, now)

    def _schedule(self, session_id: str, kind: NoticeKind, slot: NoticeSlot, now: int) -> None:
        if self.scheduler is None:
            return
        if slot.trailingDue is not None and slot.trailingDue >= now - STALE_TRAILING_MS:
            return  # one is on its way
        due = (slot.sentAt or now) + INTERVAL_MS
        stale_before = now - STALE_TRAILING_MS
        if not self.store.schedule_notice(session_id, kind, due=due, replacing=None, stale_before=stale_before):
            return  # another writer scheduled it meanwhile
        try:
            self.scheduler.schedule(TrailingNotice(sessionId=session_id, kind=kind, due=due), delay_seconds(due, now))
        except Exception:  # noqa: BLE001 - the change is recorded: the next change, past STALE_TRAILING_MS, schedules again
            logger.exception("could not schedule a trailing notice", extra={"kind": kind})


def trailing_notices(records: list[dict[str, Any]]) -> list[TrailingNotice]:
    """The notices of an SQS event's records."""
    return [TrailingNotice.model_validate(json.loads(record["body"])) for record in records]
