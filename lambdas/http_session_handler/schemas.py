"""The HTTP API's request and response bodies, as pydantic models (validation and the OpenAPI document).

Request bodies are strict and closed: a wrong JSON type or an unknown field is a VALIDATION_ERROR naming
the field, never a coercion. Lengths and patterns come from the session schema's records, so a body this
API accepts is always one the store can write. Response models are closed too: a view that drifts from its
model fails response validation (a 500 in tests) instead of silently dropping or adding a field.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from session_schema.json_types import INTEGRAL
from session_schema.models import (
    MAX_CHANNELS,
    TITLE_MAX,
    Audience,
    ChannelList,
    MessageText,
    SourceLanguage,
    Title,
    VisibleTitle,
)

# The views both APIs send are the schema module's (re-exported: the route modules import them from here).
from session_schema.views import ErrorDetail as ErrorDetail
from session_schema.views import ErrorResponse as ErrorResponse
from session_schema.views import MessageView as MessageView
from session_schema.views import SessionOwnerView as SessionOwnerView
from session_schema.views import SessionPublicView as SessionPublicView
from session_schema.views import StatusValue
from session_store.store import MAX_PAGE

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = MAX_PAGE  # the store's own page cap is the largest limit a listing accepts


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ResponseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ requests


_CHANNELS_DOC = (
    f"up to {MAX_CHANNELS} unique channel names (`^[a-z0-9][a-z0-9._-]{{0,31}}$`): tracks listeners choose "
    "between (one per language, say); each has its own stream."
)


_PRESENCE_DOC = (
    "who may list the members (`presence`) and hears `presenceChanged`: `speaker` (the default) or `public` (everyone)"
)
_REACTIONS_DOC = "who hears the aggregated `reactions`: `speaker` (the default) or `public` (everyone)"


class CreateSessionRequest(RequestBody):
    """Every field is optional; an empty body (or none) creates a session with the defaults."""

    title: Title | None = Field(None, description=f"shown to listeners; up to {TITLE_MAX} characters")
    sourceLanguage: SourceLanguage | None = Field(None, description="BCP 47 language tag, default `en`")
    maxListeners: Annotated[int, Field(ge=1), INTEGRAL] | None = Field(
        None, description="1..MAX_LISTENERS_LIMIT (a deployment setting); default DEFAULT_MAX_LISTENERS"
    )
    channels: ChannelList | None = Field(None, description=_CHANNELS_DOC)
    presence: Audience | None = Field(None, description=_PRESENCE_DOC)
    reactions: Audience | None = Field(None, description=_REACTIONS_DOC)


# PATCH fields whose `null` is a change (JSON Merge Patch's "remove"): `"title": null` clears the title.
_NULL_CLEARS = ("title",)


def _at_least_one_field_given(schema: dict[str, Any]) -> None:
    """The document says what `_not_empty` enforces: some field is present, and not null unless null clears it."""
    not_null = {"not": {"type": "null"}}
    schema["anyOf"] = [
        {"required": [name]} if name in _NULL_CLEARS else {"required": [name], "properties": {name: not_null}}
        for name in schema["properties"]
    ]
    # ... and that `_not_empty` refuses a status change and a channel change in one PATCH.
    schema["not"] = {"required": ["status", "channels"]}


class UpdateSessionRequest(RequestBody):
    """At least one field. A status change is a transition (`active <-> paused`, `-> ended`)."""

    model_config = ConfigDict(json_schema_extra=_at_least_one_field_given)

    status: StatusValue | None = None
    title: VisibleTitle | None = Field(
        None,
        description=f"a new title with a visible character, up to {TITLE_MAX} characters; `null` clears it "
        '(no title, as a session created without one); "" and invisible-only text are refused',
    )
    muted: bool | None = None
    channels: ChannelList | None = Field(
        None,
        description=f"replaces the list; {_CHANNELS_DOC.removeprefix('up to ')} The listeners of a removed channel "
        "are moved to no channel and told (`subscribed` with `channel: null`).",
    )
    presence: Audience | None = Field(None, description=_PRESENCE_DOC)
    reactions: Audience | None = Field(None, description=_REACTIONS_DOC)

    @property
    def title_change(self) -> str | None:
        """The title to write: None leaves it as it is, "" clears it (`"title": null` given)."""
        if self.title is None and "title" in self.model_fields_set:
            return ""
        return self.title

    @model_validator(mode="after")
    def _not_empty(self) -> UpdateSessionRequest:
        changes = (self.status, self.title_change, self.muted, self.channels, self.presence, self.reactions)
        if all(change is None for change in changes):
            raise ValueError("give at least one of status, title, muted, channels, presence, reactions")
        if self.status is not None and self.channels is not None:
            raise ValueError("change `channels` in a PATCH without `status` (a status change moves no listener)")
        return self


class PostMessageRequest(RequestBody):
    text: MessageText


# ------------------------------------------------------------------ responses


ItemT = TypeVar("ItemT", bound=BaseModel)


class Page(ResponseBody, Generic[ItemT]):
    """One page of a listing (sessions, messages, artifacts)."""

    items: list[ItemT]
    nextCursor: str | None = Field(description="pass as `cursor` for the next page; null on the last page")


# One named subclass per listing: the OpenAPI document names its schema after the class (not `Page_..._`).
class SessionPage(Page[SessionOwnerView]):
    pass


class StreamPage(ResponseBody):
    """`GET /sessions/{id}/events`: what a client that saw up to `sinceSeq` missed, or that it cannot have."""

    recovered: bool = Field(description="false: the events cannot be replayed; reset from `session`")
    session: SessionPublicView
    items: list[dict[str, JsonValue]] = Field(
        description="stream events (broadcast, message, sessionUpdated, sessionEnded, artifactUpdated) in seq order"
    )
    nextSinceSeq: int | None = Field(
        None, description="when more events follow, ask again from it; null on the last page"
    )
    missing: list[int] = Field(
        default_factory=list,
        description=(
            "seqs in this page's range that will never come (claimed by older server code that died before keeping "
            "the event, and proven lost for good: the next kept event is older than any writer lives): skip them"
        ),
    )


class MessagePage(Page[MessageView]):
    pass


class Health(ResponseBody):
    status: Literal["ok", "unavailable"]
