"""Lifecycle events: what the rest of the system hears about sessions and artifacts (contract: "Lifecycle
events for the rest of the system"), derived from the table's change stream by lambdas/lifecycle_events.

Declared here, once: the detail-types and their `detail` models (whose JSON Schemas are published as
`GET /lifecycle-events.json`), the `source`, and the stream filter patterns that keep every other item
(stream events, messages, connections, idempotency records) from invoking the function at all.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field

from . import codec, keys
from .models import ArtifactKind, ChannelName, ContentType, EpochMs, FileName, RecordId, SessionId, Title, UserId
from .status import ArtifactStatus, SessionStatus

SOURCE: Final = "live-sessions"


class DetailType(StrEnum):
    SESSION_CREATED = "Session Created"
    SESSION_UPDATED = "Session Updated"
    SESSION_ENDED = "Session Ended"
    SESSION_OCCUPIED = "Session Occupied"
    SESSION_VACATED = "Session Vacated"
    CHANNEL_OCCUPIED = "Channel Occupied"
    CHANNEL_VACATED = "Channel Vacated"
    ARTIFACT_UPLOADED = "Artifact Uploaded"
    ARTIFACT_UPDATED = "Artifact Updated"


# A DynamoDB stream sequence number: decimal digits, increasing within a shard and from a parent shard to its
# children, so within one session (one partition key) a later change has a larger number. Compare as integers.
SequenceNumber = Annotated[str, Field(pattern=r"^[0-9]{1,40}$")]


class LifecycleDetail(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: Annotated[
        str,
        Field(
            min_length=1,
            description="unique per change and stable across redeliveries (the stream record's eventID and what it"
            " announces): de-duplicate by it",
        ),
    ]
    sessionId: SessionId
    ownerId: UserId
    at: Annotated[EpochMs, Field(description="when the change was written (the stream record's time), epoch ms")]
    sequenceNumber: Annotated[
        SequenceNumber,
        Field(description="the change's position in the table's stream: sort a session's events by it (as integers)"),
    ]


class _Change(BaseModel):
    """One field's change: `{"from": old, "to": new}`."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, serialize_by_alias=True)


class StatusChange(_Change):
    from_: SessionStatus = Field(alias="from")
    to: SessionStatus


class MutedChange(_Change):
    from_: bool = Field(alias="from")
    to: bool


class TitleChange(_Change):
    from_: Title = Field(alias="from")
    to: Title


class ChannelsChange(_Change):
    from_: list[ChannelName] = Field(alias="from")
    to: list[ChannelName]


class ArtifactStatusChange(_Change):
    from_: ArtifactStatus = Field(alias="from")
    to: ArtifactStatus


class ArtifactErrorChange(_Change):
    from_: str | None = Field(alias="from")
    to: str | None


class SessionChanges(BaseModel):
    """What a `Session Updated` changed: only the fields that did (at least one), each from its old value to
    its new one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status: StatusChange | None = None
    muted: MutedChange | None = None
    title: TitleChange | None = None
    channels: ChannelsChange | None = None


class ArtifactChanges(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    status: ArtifactStatusChange | None = None
    error: ArtifactErrorChange | None = None


class SessionCreated(LifecycleDetail):
    title: Title
    status: SessionStatus
    maxListeners: int
    sourceLanguage: str
    channels: list[ChannelName]
    createdAt: EpochMs


class SessionUpdated(LifecycleDetail):
    changes: SessionChanges


class SessionEnded(LifecycleDetail):
    endedAt: EpochMs | None


class Occupancy(LifecycleDetail):
    listenerCount: Annotated[int, Field(ge=0, description="the session's listeners after the change")]


class ChannelOccupancy(LifecycleDetail):
    channel: ChannelName
    listenerCount: Annotated[int, Field(ge=0, description="the channel's listeners after the change")]


class ArtifactUploaded(LifecycleDetail):
    artifactId: RecordId
    kind: ArtifactKind
    contentType: ContentType
    fileName: FileName
    objectKey: str
    uploadedAt: EpochMs


class ArtifactUpdated(LifecycleDetail):
    artifactId: RecordId
    kind: ArtifactKind
    status: ArtifactStatus
    changes: ArtifactChanges


DETAIL_MODELS: dict[DetailType, type[LifecycleDetail]] = {
    DetailType.SESSION_CREATED: SessionCreated,
    DetailType.SESSION_UPDATED: SessionUpdated,
    DetailType.SESSION_ENDED: SessionEnded,
    DetailType.SESSION_OCCUPIED: Occupancy,
    DetailType.SESSION_VACATED: Occupancy,
    DetailType.CHANNEL_OCCUPIED: ChannelOccupancy,
    DetailType.CHANNEL_VACATED: ChannelOccupancy,
    DetailType.ARTIFACT_UPLOADED: ArtifactUploaded,
    DetailType.ARTIFACT_UPDATED: ArtifactUpdated,
}


def detail_schemas() -> dict[str, Any]:
    """The published document: one JSON Schema (2020-12) of `detail` per detail-type."""
    return {
        "source": SOURCE,
        "description": "Every event on the stack's EventBridge bus has this `source`; its `detail-type` names the"
        " schema its `detail` follows. At least once: de-duplicate by `detail.id`, order a session's events by"
        " `detail.sequenceNumber`.",
        "detailTypes": {
            detail_type.value: {
                **model.model_json_schema(by_alias=True, mode="serialization"),
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": detail_type.value,
            }
            for detail_type, model in DETAIL_MODELS.items()
        },
    }


# -------------------------------------------------------------- the stream's filter (event source mapping)

# Lambda event filtering patterns (the EventBridge pattern syntax) on the stream record. Keys, not the `entity`
# tag: items older code wrote carry no tag. Only writes and updates: a removal announces nothing (an ended
# session's TTL deletion, an artifact deleted with its object).
_WRITES = ["INSERT", "MODIFY"]
STREAM_FILTER_PATTERNS: tuple[dict[str, Any], ...] = (
    {  # session items: created, status/title/mute/channels, listener counts; not a publish that moved only `seq`
        "eventName": _WRITES,
        "dynamodb": {
            "Keys": {keys.PK: {"S": [{"prefix": keys.SESSION_PREFIX}]}, keys.SK: {"S": [keys.META]}},
            "NewImage": {codec.SEQ_ONLY: {"BOOL": [{"exists": False}]}},
        },
    },
    {  # artifacts: uploaded, status changes
        "eventName": _WRITES,
        "dynamodb": {"Keys": {keys.SK: {"S": [{"prefix": keys.ART_PREFIX}]}}},
    },
    {  # a keynote session's occupancy item: its occupied/vacated transitions
        "eventName": _WRITES,
        "dynamodb": {"Keys": {keys.SK: {"S": [keys.OCCUPANCY]}}},
    },
    # A keynote session's seat shard whose listener count leaves or reaches zero. A channel's crossing cannot be
    # told apart here (channelCounts is a map keyed by the session's own channel names, which a pattern cannot
    # range over), so while any channel is declared every count change passes, and the function's pure check
    # (mapping.crossing_of) drops those that cross nothing before any read.
    {
        "eventName": ["MODIFY"],
        "dynamodb": {
            "Keys": {keys.PK: {"S": [{"prefix": keys.SEATS_PREFIX}]}},
            "NewImage": {"channels": {"L": {"S": [{"exists": True}]}}},
        },
    },
    {
        "eventName": ["MODIFY"],
        "dynamodb": {"Keys": {keys.PK: {"S": [{"prefix": keys.SEATS_PREFIX}]}}, "NewImage": {"count": {"N": ["0"]}}},
    },
    {
        "eventName": ["MODIFY"],
        "dynamodb": {"Keys": {keys.PK: {"S": [{"prefix": keys.SEATS_PREFIX}]}}, "OldImage": {"count": {"N": ["0"]}}},
    },
)

# The table's stream (the CDK stack's and the local stack's): both images, so a change can say from what to what.
STREAM_VIEW_TYPE: Final = "NEW_AND_OLD_IMAGES"

# How a stream record says the service itself removed an item (TTL), not a caller.
TTL_PRINCIPAL: Final = "dynamodb.amazonaws.com"
