"""The bodies of `POST /sessions/{id}/broadcasts` and its IAM twin: 1 to 25 events, each to a channel or to all.

Every event must fit one WebSocket frame (32 KB) once wrapped in its `broadcast` event, with the largest seq,
time and channel name it could carry, so an accepted publish is one every listener can be sent; a larger one is
VALIDATION_ERROR naming `events[i].data`.
"""

from __future__ import annotations

from pydantic import Field, JsonValue, field_validator

from session_protocol.frames import require_broadcast_fits
from session_schema.models import ChannelName

from .schemas import RequestBody, ResponseBody

MAX_EVENTS_PER_PUBLISH = 25  # a DynamoDB transaction holds 100 items: the head, and each event's kept item


class PublishEvent(RequestBody):
    data: JsonValue = Field(description="any JSON; at most 32 KB once wrapped in its `broadcast` event")
    channel: ChannelName | None = Field(
        None, description="a channel the session declares; left out or null: the whole session"
    )

    @field_validator("data")
    @classmethod
    def _fits_a_frame(cls, value: JsonValue) -> JsonValue:
        return require_broadcast_fits(value)


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
