"""The WebSocket API's AsyncAPI 3.0 document, served at `GET /asyncapi.json` (beside `/openapi.json`).

Generated from what the handler itself uses, so it cannot drift from it: the registry of actions
(`frames.ACTIONS`: each action's frame model, the one `parse_frame` validates with, who may send it and its
answers), the event models every answer and push is built from (`session_protocol.events`), the session ID
pattern `$connect` applies, and the domain errors a refused handshake answers with. Who receives a push is
declared here, and tests/ws/test_asyncapi.py checks it against the handler.

Operations are written from a client's side: it `send`s an action (answered on the same connection by its
`reply`) and `receive`s the pushed events.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from session_schema.errors import (
    Banned,
    DomainError,
    InvalidChannel,
    InvalidSessionId,
    RateLimited,
    ServiceUnavailable,
    SessionEnded,
    SessionFull,
    SessionNotFound,
    Unauthorized,
    ValidationFailed,
)
from session_schema.ids import SESSION_ID_INPUT_PATTERN
from session_schema.models import CHANNEL_PATTERN
from session_schema.routes import WS_ROUTE_SELECTION_EXPRESSION

from . import events, frames, versions
from .registry import ActionRegistry, action_name

ASYNCAPI_VERSION = "3.0.0"
TITLE = "Live Sessions WebSocket API"
VERSION = "0.1.0"
CHANNEL = "session"
SCHEMAS = "#/components/schemas/"
PROTOCOL_VERSION_KEY = "x-protocol-version"

# Every event a connection may receive without having asked, and who receives it.
PUSHED: dict[type[events.Event], str] = {
    events.BroadcastEvent: "every listener, for each broadcast",
    events.MessageEvent: "every connection but the sender's, for each stored message",
    events.SessionUpdatedEvent: "every connection but the caller's, when status, muted or title changed",
    events.SessionEndedEvent: "every connection, when the session ended (then listeners are closed)",
    events.ListenerCountEvent: "the speaker, on each listener's join and leave",
    events.SpeakerDisconnectedEvent: "the listeners, when the speaker's connection went",
    events.ArtifactUpdatedEvent: "every connection, when an artifact's status changed",
    events.BatchEvent: "a connection that declared protocol version 2 or later (`&v=2`), for the several stream "
    "events of one publish or one recovery page: in frames of at most 32 KB instead of one frame per event",
}
# A refused handshake: the HTTP status and the HTTP API's error body. In a browser it is only a close 1006,
# so a client finds the code out from `GET /sessions/{sessionId}` instead.
HANDSHAKE_REFUSALS: tuple[type[DomainError], ...] = (
    InvalidSessionId,
    Unauthorized,
    Banned,
    SessionNotFound,
    SessionEnded,
    SessionFull,
    InvalidChannel,
    ValidationFailed,
    RateLimited,
    ServiceUnavailable,
)
_REFUSAL_MEANINGS: dict[str, str] = {
    "VALIDATION_ERROR": "`v` is not a protocol version (a positive integer), or `channel` not a channel name; do not"
    " retry",
    "INVALID_CHANNEL": "`channel` is not one of the session's channels (its `channels`); do not retry",
    "INVALID_SESSION_ID": "`sessionId` is missing or not a session ID; do not retry",
    "UNAUTHORIZED": "a `token` was given and failed verification (expired, forged, another issuer): never a silent"
    " listener; get a fresh token and connect again, or connect without one to listen anonymously",
    "FORBIDDEN": "the session's speaker removed this user (or this name) with `kick {ban: true}`: out for the"
    " session's duration; do not retry",
    "SESSION_NOT_FOUND": "no such session; do not retry",
    "SESSION_ENDED": "the session has ended; do not retry",
    "SESSION_FULL": "the session has `maxListeners` listeners; retry with backoff",
    "RATE_LIMITED": "the table throttled the connect; retry with backoff",
    "SERVICE_UNAVAILABLE": "a service the connect needs did not answer in time; retry with backoff",
}


def _message_key(model: type[BaseModel]) -> str:
    """The channel's key of a message: `<action>Action` for a frame, the event's `type` for an event."""
    if issubclass(model, frames.Frame):
        return f"{action_name(model)}Action"
    return _event_type(model)


def _event_type(model: type[BaseModel]) -> str:
    default = model.model_fields["type"].default
    assert isinstance(default, str)
    return default


def _schemas(actions: ActionRegistry) -> dict[str, Any]:
    """Every frame (as validated) and event (as sent) model, plus the handshake error body, by model name."""
    from session_schema.views import ErrorResponse

    models: list[tuple[type[BaseModel], Any]] = [(spec.frame, "validation") for spec in actions]
    models += [(m, "serialization") for m in events.EVENT_MODELS]
    models.append((ErrorResponse, "serialization"))
    _, top = models_json_schema(models, ref_template=SCHEMAS + "{model}")
    schemas: dict[str, Any] = top["$defs"]
    return schemas


def _message(model: type[BaseModel], since: int, summary: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": _message_key(model),
        "title": model.__name__,
        "payload": {"$ref": SCHEMAS + model.__name__},
        # The protocol version that introduced it: sent only to a connection that declared it or a later one.
        PROTOCOL_VERSION_KEY: since,
    }
    description = summary or (model.__doc__ or "").strip()
    if description:
        message["summary"] = description
    return message


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/channels/{CHANNEL}/messages/{_message_key(model)}"}


def _operations(actions: ActionRegistry) -> dict[str, Any]:
    channel = {"$ref": f"#/channels/{CHANNEL}"}
    operations: dict[str, Any] = {}
    for spec in actions:
        who = "speaker" if spec.speaker_only else "any"
        answers: list[type[events.Event]] = [*spec.answers, events.ErrorEvent]
        operations[spec.name] = {
            "action": "send",
            "channel": channel,
            "title": f'{{"action": "{spec.name}"}}',
            "summary": spec.summary,
            "description": f"Who may send it: {who}. Answered on the same connection by "
            + " or ".join(f"`{_event_type(m)}`" for m in answers)
            + ("; a listener gets `error` FORBIDDEN." if who == "speaker" else "."),
            "tags": [{"name": who}],
            "messages": [_ref(spec.frame)],
            "reply": {"channel": channel, "messages": [_ref(m) for m in answers]},
        }
    for model, receivers in PUSHED.items():
        kind = _event_type(model)
        operations[f"receive{kind[0].upper()}{kind[1:]}"] = {
            "action": "receive",
            "channel": channel,
            "summary": f"`{kind}`, pushed to {receivers}",
            "tags": [{"name": "stream" if model.stream else "connection"}],
            "messages": [_ref(model)],
        }
    return operations


def _handshake() -> dict[str, Any]:
    return {
        "description": "A refused `$connect` is this HTTP status with the HTTP API's error body "
        "(`ErrorResponse`); in a browser it is only a close 1006, so a client learns the code from "
        "`GET /sessions/{sessionId}` (404: SESSION_NOT_FOUND; status `ended`: SESSION_ENDED; "
        "listenerCount >= maxListeners: SESSION_FULL; a malformed ID: INVALID_SESSION_ID; a `channel` not among its "
        "`channels`: INVALID_CHANNEL; a token given: check it, "
        "an expired or forged one is UNAUTHORIZED; otherwise transient).",
        "payload": {"$ref": SCHEMAS + "ErrorResponse"},
        "refusals": [
            {"status": error.status, "code": error.code, "meaning": _REFUSAL_MEANINGS[error.code]}
            for error in HANDSHAKE_REFUSALS
        ],
    }


def _channel(messages: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": "/",
        "title": "A session's connection",
        "description": "Connect with `?sessionId=<id>[&token=<JWT>][&v=<protocol version>]`. The owner's valid "
        "token makes the connection the session's speaker; anything else (no token, another user's, an expired one) a "
        'listener. Then send JSON frames `{"action": ...}` (API Gateway routes on '
        f"`{WS_ROUTE_SELECTION_EXPRESSION}`), each answered on the same connection; frames are at most 32 KB, "
        "any message at most 128 KB; a connection lasts at most 2 hours.",
        "messages": messages,
        "bindings": {
            "ws": {
                "bindingVersion": "0.1.0",
                "method": "GET",
                "query": {
                    "type": "object",
                    "required": ["sessionId"],
                    "properties": {
                        "sessionId": {
                            "type": "string",
                            "pattern": SESSION_ID_INPUT_PATTERN,
                            "description": "`adjective-noun-NNN`; typed forms like `Quiet River 482` are normalized",
                        },
                        "token": {
                            "type": "string",
                            "description": "a Cognito ID or access token (JWT); the owner's makes the speaker",
                        },
                        "channel": {
                            "type": "string",
                            "pattern": CHANNEL_PATTERN,
                            "description": "the channel to be on from the start (one the session declares)",
                        },
                        versions.QUERY_PARAMETER: {
                            "type": "string",
                            "pattern": "^[0-9]{1,4}$",
                            "default": str(versions.FIRST),
                            "description": "the newest protocol version the client speaks (a message's "
                            f"`{PROTOCOL_VERSION_KEY}` says which introduced it); the server speaks up to "
                            f"{versions.CURRENT} and never sends a connection a frame newer than it declared",
                        },
                    },
                },
            }
        },
        "x-handshake": _handshake(),
    }


def document(actions: ActionRegistry = frames.ACTIONS) -> dict[str, Any]:
    """The document of the actions `actions` declares (every one the handler takes, unless a test adds some)."""
    messages = {_message_key(spec.frame): _message(spec.frame, spec.since) for spec in actions}
    messages.update({_message_key(m): _message(m, m.since) for m in events.EVENT_MODELS})
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "Listeners and the speaker of a live session, over one WebSocket connection each. "
            "Operations are written from a client's side: send an action (its reply comes on the same "
            "connection), receive the pushed events. Events pushed because the session changed are tagged "
            "`stream`; the HTTP API is described by `/openapi.json`. A client declares the protocol version it "
            f"speaks on the connect URL (`&v=`, up to {versions.CURRENT}); each message's `{PROTOCOL_VERSION_KEY}` "
            "is the version that introduced it, and a connection is never sent a message newer than it declared.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "aws": {
                "host": "{apiId}.execute-api.{region}.amazonaws.com",
                "pathname": "/{stage}",
                "protocol": "wss",
                "description": "The deployed WebSocket API (the stack's WebSocketUrl output)",
                "variables": {
                    "apiId": {"description": "the WebSocket API's ID"},
                    "region": {"default": "us-east-1"},
                    "stage": {"default": "dev", "description": "the stack's stage (`dev`, `prod`)"},
                },
            },
            "local": {
                "host": "127.0.0.1:3001",
                "protocol": "ws",
                "description": "The local stack (`make dev`, `python -m local serve`; `--ws-port` changes the port)",
            },
        },
        "channels": {CHANNEL: _channel(messages)},
        "operations": _operations(actions),
        "components": {"schemas": _schemas(actions)},
    }
