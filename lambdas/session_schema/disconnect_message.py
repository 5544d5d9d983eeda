"""The disconnect queue's message: what API Gateway sends to SQS for a `$disconnect` instead of invoking the
connection function (a throttled invocation API Gateway would drop; a queued message is retried until delivered).

Its fields are declared once here, each with the API Gateway context variable it comes from. The CDK stack builds
the route's request template from them (`request_template`: infra/disconnect_queue.py), the local WebSocket
gateway the same message from its event's `requestContext` (`message_body`: local/apigw/ws_gateway.py), and the
consumer parses it with `DisconnectMessage` (connection_handler/disconnect.py).

Every value is a JSON string, as a template writes it (a number unquoted would be invalid JSON when API Gateway
has no value). A value the client chooses (its close frame's reason) is percent-encoded first, `url_encoded`: a
quote in it could otherwise end its JSON string and add fields, such as another `connectionId`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote_plus, unquote_plus

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


@dataclass(frozen=True)
class MessageField:
    name: str  # the field of the message body
    context_variable: str  # API Gateway's `$context.<variable>` (the Lambda event's requestContext.<variable>)
    url_encoded: bool = False  # client-chosen text: `$util.urlEncode`d in the template, decoded by the consumer


DISCONNECT_MESSAGE_FIELDS: tuple[MessageField, ...] = (
    MessageField("connectionId", "connectionId"),
    MessageField("disconnectStatusCode", "disconnectStatusCode"),
    MessageField("disconnectReason", "disconnectReason", url_encoded=True),
    MessageField("requestTimeEpoch", "requestTimeEpoch"),
)


def request_template() -> str:
    """The `$disconnect` route's request template: an SQS `SendMessage` (query protocol, form-encoded) whose body
    is the declared fields as JSON. VTL's `#set` with single-quoted literals (not interpolated) keeps the JSON's
    double quotes apart from the template's own; `${q}` (formal notation) ends the reference before a name."""
    parts = []
    for field in DISCONNECT_MESSAGE_FIELDS:
        value = f"$context.{field.context_variable}"
        if field.url_encoded:
            value = f"$util.urlEncode({value})"
        parts.append(f"${{q}}{field.name}${{q}}:${{q}}{value}${{q}}")
    return "\n".join(
        (
            "#set($q = '\"')",
            f'#set($body = "{{{",".join(parts)}}}")',
            "Action=SendMessage&MessageBody=$util.urlEncode($body)",
        )
    )


def message_body(request_context: Mapping[str, Any]) -> str:
    """The body the template above makes of a `$disconnect` whose requestContext is `request_context` (the local
    gateway's). A missing value is empty, as VTL renders an unset variable in quotes."""
    body: dict[str, str] = {}
    for field in DISCONNECT_MESSAGE_FIELDS:
        raw = request_context.get(field.context_variable)
        value = "" if raw is None else str(raw)
        body[field.name] = quote_plus(value) if field.url_encoded else value
    return json.dumps(body, separators=(",", ":"))


def _empty_is_none(value: Any) -> Any:
    return None if value == "" else value


OptionalInt = Annotated[int | None, BeforeValidator(_empty_is_none)]


class DisconnectMessage(BaseModel):
    """A parsed message: raises pydantic's ValidationError for a body that is not one (not JSON, no connection)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    connectionId: str = Field(min_length=1, max_length=128)  # noqa: N815 - the wire's name
    disconnectStatusCode: OptionalInt = None  # noqa: N815
    disconnectReason: Annotated[str, BeforeValidator(lambda value: unquote_plus(str(value)))] = ""  # noqa: N815
    requestTimeEpoch: OptionalInt = None  # noqa: N815

    @classmethod
    def parse(cls, body: str) -> DisconnectMessage:
        return cls.model_validate_json(body)
