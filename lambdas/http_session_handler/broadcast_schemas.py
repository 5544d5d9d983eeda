"""The bodies of `POST /sessions/{id}/broadcasts` and its IAM twin: 1 to 25 events, each to a channel or to all.

Every event must fit one WebSocket frame (32 KB) once wrapped in its `broadcast` event, with the largest seq,
time and channel name it could carry, so an accepted publish is one every listener can be sent; a larger one is
VALIDATION_ERROR naming `events[i].data`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, JsonValue, StringConstraints, field_validator

from session_protocol import events
from session_protocol.encoding import encode_payload
from session_protocol.frames import BROADCAST_DATA_MAX_BYTES as FRAME_MAX_BYTES
from session_schema.models import EPOCH_MS_LIMIT, SEQ_MAX

from .schemas import RequestBody, ResponseBody

MAX_EVENTS_PER_PUBLISH = 25  # a DynamoDB transaction holds 100 items: the head, and each event's kept item
CHANNEL_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,31}$"  # the contract's channel name
CHANNEL_NAME_MAX = 32
ChannelName = Annotated[str, StringConstraints(pattern=CHANNEL_PATTERN)]

# The bytes a `broadcast` event adds around its data, at its largest: the biggest seq and time, and the
# `"channel"` member of the longest name (JSON escapes nothing in a name the pattern allows).
_CHANNEL_MEMBER_BYTES = len(b',"channel":""') + CHANNEL_NAME_MAX


def wrapped_size(data: JsonValue) -> int:
    """The encoded size of `data` as a `broadcast` event at its largest."""
    largest = events.broadcast(data, ts=EPOCH_MS_LIMIT - 1, seq=SEQ_MAX)
    return len(encode_payload(largest)) + _CHANNEL_MEMBER_BYTES


class PublishEvent(RequestBody):
    data: JsonValue = Field(description="any JSON; at most 32 KB once wrapped in its `broadcast` event")
    channel: ChannelName | None = Field(
        None, description="a channel the session declares; left out or null: the whole session"
    )

    @field_validator("data")
    @classmethod
    def _fits_a_frame(cls, value: JsonValue) -> JsonValue:
        size = wrapped_size(value)
        if size > FRAME_MAX_BYTES:
            raise ValueError(f"is {size} bytes once wrapped in its broadcast event; at most {FRAME_MAX_BYTES}")
        return value


class PublishRequest(RequestBody):
    events: list[PublishEvent] = Field(
        min_length=1,
        max_length=MAX_EVENTS_PER_PUBLISH,
        description=f"1 to {MAX_EVENTS_PER_PUBLISH} events, published in this order",
    )


class PublishedItem(ResponseBody):
    channel: str | None = Field(description="the stream the event went to: its channel, or null for the session's")
    seq: int = Field(description="the event's seq in that stream")


class PublishAnswer(ResponseBody):
    items: list[PublishedItem] = Field(description="one per event, in the order given")
