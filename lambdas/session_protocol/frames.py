"""Inbound frames: one strict pydantic model per action, and the one parser that turns a body into one.

A frame that is not a JSON object naming a known action is INVALID_ACTION (the contract's "anything
else"); a known action with a missing, extra or ill-typed field is VALIDATION_ERROR naming the field.
Parsing never touches DynamoDB, so a bad frame costs nothing but this function.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from typing import Annotated, Any, Literal, TypeAlias, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from session_schema.errors import DomainError, InvalidAction, ValidationFailed
from session_schema.json_types import INTEGRAL
from session_schema.models import SEQ_MAX, CursorToken, Epoch, EpochMs, MessageText
from session_store.store import MAX_PAGE

from .encoding import encode_payload

BROADCAST_DATA_MAX_BYTES = 32 * 1024  # the API Gateway WebSocket frame limit
HISTORY_DEFAULT_LIMIT = 50


CLIENT_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
_CLIENT_ID_RE = re.compile(CLIENT_ID_PATTERN)
ClientId = Annotated[str, StringConstraints(pattern=CLIENT_ID_PATTERN)]


class Frame(BaseModel):
    # strict: "5" is not a number and 1 is not true; forbid: a misspelt field is an error, not ignored.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    # The client's tag for this request: echoed in its direct answer (an error too), never interpreted.
    id: ClientId | None = None


class JoinFrame(Frame):
    action: Literal["join"]
    # Resume: the last stream seq this client saw, and the epoch it saw it in (both, or neither).
    sinceSeq: Annotated[int, Field(ge=0, le=SEQ_MAX), INTEGRAL] | None = None
    epoch: Epoch | None = None

    def resume_point(self) -> tuple[int, str] | None:
        """(sinceSeq, epoch) of a resuming join, None for a fresh one; VALIDATION_ERROR when only one is given."""
        if self.sinceSeq is None and self.epoch is None:
            return None
        if self.sinceSeq is None:
            raise ValidationFailed("sinceSeq", "is required with epoch")
        if self.epoch is None:
            raise ValidationFailed("epoch", "is required with sinceSeq (the epoch of the session you saw it in)")
        return self.sinceSeq, self.epoch


class PingFrame(Frame):
    action: Literal["ping"]


class BroadcastFrame(Frame):
    action: Literal["broadcast"]
    data: JsonValue

    @field_validator("data")
    @classmethod
    def _fits_a_frame(cls, value: JsonValue) -> JsonValue:
        size = len(encode_payload(value))
        if size > BROADCAST_DATA_MAX_BYTES:
            raise ValueError(f"is {size} bytes; at most {BROADCAST_DATA_MAX_BYTES} bytes")
        return value


class SendMessageFrame(Frame):
    action: Literal["sendMessage"]
    text: MessageText


class HistoryFrame(Frame):
    action: Literal["history"]
    since: Annotated[EpochMs, INTEGRAL] = 0  # ms: messages created strictly after
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE), INTEGRAL] = HISTORY_DEFAULT_LIMIT
    cursor: CursorToken | None = None


class PauseFrame(Frame):
    action: Literal["pause"]


class ResumeFrame(Frame):
    action: Literal["resume"]


class MuteFrame(Frame):
    action: Literal["mute"]


class UnmuteFrame(Frame):
    action: Literal["unmute"]


class EndFrame(Frame):
    action: Literal["end"]


AnyFrame: TypeAlias = (
    JoinFrame
    | PingFrame
    | BroadcastFrame
    | SendMessageFrame
    | HistoryFrame
    | PauseFrame
    | ResumeFrame
    | MuteFrame
    | UnmuteFrame
    | EndFrame
)
FRAME_MODELS: dict[str, type[Frame]] = {
    get_args(model.model_fields["action"].annotation)[0]: model for model in get_args(AnyFrame)
}
_FRAME: TypeAdapter[AnyFrame] = TypeAdapter(Annotated[AnyFrame, Field(discriminator="action")])


def _constant(name: str) -> float:
    """`NaN`, `Infinity`, `-Infinity` (not JSON, but Python's parser takes them): read, then refused by field."""
    return float(name.replace("Infinity", "inf"))


def _non_finite_field(value: Any, path: tuple[str, ...] = ()) -> str | None:
    """The dotted path of the first NaN or infinite number in a parsed frame (`1e400` parses as inf), or None.
    No encoder may write them and `JSON.parse` rejects them, so they are refused before anything is stored."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".".join(path) or "frame"
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _non_finite_field(item, (*path, str(key)))
        if found is not None:
            return found
    return None


def _body_text(body: str | None, is_base64: bool) -> str:
    if body is None:
        return ""
    if not is_base64:
        return body
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidAction("a frame is a UTF-8 JSON object") from None


class FrameRefused(Exception):
    """A frame that does not parse: the refusal, and the client `id` it carried (if a valid one) to echo."""

    def __init__(self, refusal: DomainError, client_id: str | None) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal
        self.client_id = client_id


def parse_frame(route_key: str, body: str | None, *, is_base64: bool = False) -> AnyFrame:
    """The frame of a message event, or FrameRefused (InvalidAction / ValidationFailed, and the `id` to echo)."""
    try:
        document = json.loads(_body_text(body, is_base64), parse_constant=_constant)
    except DomainError as refusal:
        raise FrameRefused(refusal, None) from None
    except (ValueError, RecursionError):
        raise FrameRefused(InvalidAction('a frame is a JSON object like {"action": "join"}'), None) from None
    if not isinstance(document, dict):
        raise FrameRefused(InvalidAction('a frame is a JSON object like {"action": "join"}'), None)
    try:
        return _parse_document(route_key, document)
    except DomainError as refusal:
        raw_id = document.get("id")
        client_id = raw_id if isinstance(raw_id, str) and _CLIENT_ID_RE.fullmatch(raw_id) else None
        raise FrameRefused(refusal, client_id) from None


def _parse_document(route_key: str, document: dict[str, Any]) -> AnyFrame:
    action = document.get("action")
    if not isinstance(action, str) or action not in FRAME_MODELS:
        shown = repr(action)[:40] if action is not None else "missing"
        raise InvalidAction(f"action {shown} is not an action")
    if route_key != action:
        # API Gateway routes a known action to its own route; $default only ever sees the unknown ones.
        raise InvalidAction(f"action {action!r} arrived on route {route_key!r}")
    bad_number = _non_finite_field(document)
    if bad_number is not None:
        raise ValidationFailed(bad_number, "is not a finite number (NaN and Infinity are not JSON)")
    try:
        return _FRAME.validate_python(document)
    except ValidationError as error:
        raise _validation_failed(error) from None


def _validation_failed(error: ValidationError) -> ValidationFailed:
    first = error.errors(include_url=False)[0]
    location = [str(part) for part in first["loc"][1:]]  # loc[0] is the discriminator's value
    field = ".".join(location) or "frame"
    if first["type"] == "extra_forbidden":
        return ValidationFailed(field, "is not a field of this action")
    if first["type"] == "missing":
        return ValidationFailed(field, "is required")
    message = first["msg"].removeprefix("Value error, ")
    return ValidationFailed(field, message)
