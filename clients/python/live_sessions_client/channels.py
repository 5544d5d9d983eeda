"""Channels (the contract's "Channels: tracks inside a session"): a connection is on at most one channel and then
follows two streams, the session's (session-wide events) and its channel's own gap-free stream (that channel's
events only, each carrying `channel` and its seq there). `ChannelTrack` is the second one: which channel the
client is on, its own StreamOrderer, and the switch. The twin of the TypeScript client's `channels.ts`.

- `joined.channelStream` and `subscribed` give the channel stream's position: the baseline after which every
  event of that channel comes;
- a switch (`subscribe`) forgets the old channel: an event of it still in flight is dropped; an event of the new
  channel that overtakes the `subscribed` answer waits for it;
- on a re-join the client sends both positions (`sinceSeq` + `channelSinceSeq`) and the server replays both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, TypedDict, cast

from .protocol import ChannelStreamPosition, SubscribedEvent
from .stream import PushResult, StreamOrderer

Event = dict[str, Any]
_UNSET: Any = object()  # no switch in flight (None is a switch to no channel)


class PublishEvent(TypedDict, total=False):
    """One event of `POST /sessions/{id}/broadcasts`: any JSON `data`, to `channel` (absent or None: everyone)."""

    data: Any
    channel: str | None


class PublishedItem(TypedDict):
    channel: str | None  # the stream it went to: its channel, None for the session's
    seq: int


class PublishAnswer(TypedDict):
    items: list[PublishedItem]  # one per event, in the order given


def is_channel_event(event: Mapping[str, Any]) -> bool:
    """A channel's event: a broadcast that names its channel (its `seq` is in that channel's stream)."""
    return event.get("type") == "broadcast" and isinstance(event.get("channel"), str)


def publish_body(events: PublishEvent | Iterable[PublishEvent], channel: str | None = None) -> dict[str, Any]:
    """`events` (one, or a list), each without its own `channel` sent to `channel` when one is given."""
    listed = [cast(PublishEvent, events)] if isinstance(events, dict) else list(events)
    if channel is None:
        return {"events": listed}
    return {"events": [event if "channel" in event else {**event, "channel": channel} for event in listed]}


class ChannelTrack:
    def __init__(
        self, deliver: Callable[[Event], None], max_buffered: int, channel: str | None, resume_seq: int | None = None
    ) -> None:
        self.channel = channel  # the channel this client is on, or asks to be on at its next handshake
        self.orderer: StreamOrderer[Event] = StreamOrderer(deliver, max_buffered)
        if channel is not None and resume_seq is not None:
            self.orderer.last = resume_seq
        # A subscribe in flight: the channel it asks for, and that channel's events that came before its answer.
        self._switching_to: Any = _UNSET
        self._early: list[Event] = []

    def join_fields(self, resuming: bool) -> dict[str, Any]:
        """The channel fields of a `join`: the channel, and with a resume, the last seq seen of its stream."""
        if self.channel is None:
            return {}
        last = self.orderer.last
        if resuming and last is not None:
            return {"channel": self.channel, "channelSinceSeq": last}
        return {"channel": self.channel}

    def hold(self) -> None:
        """A new connection is joining: hold the channel's events until its `joined`; a switch in flight is void."""
        self.orderer.hold()
        self._switching_to, self._early = _UNSET, []

    def joined(self, position: ChannelStreamPosition | None, continues: bool) -> None:
        """`joined`: with `continues` (a recovered resume in the same epoch) delivery goes on after the last seq
        delivered; otherwise the channel stream's position in the answer is the new baseline."""
        channel = position["channel"] if position else None
        baseline = position["seq"] if position else 0
        if channel != self.channel:
            self.channel = channel
            self.orderer.restart(baseline)
        elif continues and self.orderer.last is not None:
            self.orderer.release()
        else:
            self.orderer.release(baseline)

    def push(self, event: Event) -> PushResult | Literal["elsewhere"]:
        """A channel event: into the channel's order, held for the switch in flight to its channel, or dropped
        (another channel's, sent before a switch)."""
        if event["channel"] == self.channel:
            return self.orderer.push(event)
        if event["channel"] == self._switching_to:
            self._early.append(event)
            return "held"
        return "elsewhere"

    def switching(self, channel: str | None) -> None:
        """A `subscribe` for `channel` is on its way."""
        self._switching_to, self._early = channel, []

    def subscribed(self, event: SubscribedEvent) -> None:
        """`subscribed` (the answer, or pushed when the session stopped offering the channel): the channel now, and
        its stream's position, after which every event of it comes."""
        early = self._early if event["channel"] == self._switching_to else []
        self._switching_to, self._early = _UNSET, []
        if event["channel"] == self.channel:
            return  # no switch: the stream goes on as it was
        self.channel = event["channel"]
        self.orderer.restart(event["seq"])
        for held in early:
            self.orderer.push(held)

    def mark_own(self, channel: str | None, seq: int) -> bool:
        """A seq of this channel's stream the client published itself (channel events go to listeners only)."""
        if channel is None or channel != self.channel:
            return False
        self.orderer.mark_seen(seq)
        return True

    def dropped(self, epoch: str) -> SubscribedEvent:
        """A switch to none the client makes itself: the session no longer declares the channel it was on."""
        event = SubscribedEvent(type="subscribed", channel=None, seq=0, epoch=epoch)
        self.subscribed(event)
        return event
