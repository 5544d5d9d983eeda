"""Request validation: who is calling first, then the inputs, with JSON-only bodies.

Order: the caller is identified before any input is validated (a request a signed-in route cannot
attribute to anyone is 401 whatever its body: no gateway authorizer runs, so this is where a missing or
invalid token is refused); see identity.py. Then Powertools validates path, query, header and body
inputs against the route's models.

Bodies: Powertools' request validation would also parse form-encoded and multipart bodies, and lets a body that
is not valid base64 or UTF-8 (or nests deeper than the parser recurses) escape as an unexpected error.
This API speaks JSON: a body must be `application/json` (or `+json`, or carry no Content-Type at all),
else 415; one that cannot be decoded is 400 VALIDATION_ERROR with field `body`. Every body of this API is
a JSON object: anything else (an array, a string, a number, `null`) is refused here too, because Powertools
would otherwise take the first element of an array as the body (a form-data convenience) and a `null` as no
body at all (so `null` created a session with the defaults).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from session_runtime.powertools_compat import RequestValidationMiddleware

from .identity import identify


def is_json_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("", "application/json") or (media.startswith("application/") and media.endswith("+json"))


class RequestValidation(RequestValidationMiddleware):
    def before(self, app: Any) -> None:
        identify(app.request)  # raises Unauthorized before any input is judged; cached for the route

    def body(self, app: Any) -> Any:
        event = app.current_event
        content_type = event.headers.get("content-type") or ""
        if not is_json_media_type(content_type):
            raise RequestUnsupportedContentType(
                "Unsupported content type",
                errors=[
                    {"type": "unsupported_content_type", "loc": ("header", "content-type"), "msg": "", "input": {}}
                ],
            )
        try:
            body = event.json_body
        except (ValueError, RecursionError):  # JSONDecodeError, bad base64, bad UTF-8; absurd nesting
            raise RequestValidationError(
                [{"type": "json_invalid", "loc": ("body",), "msg": "JSON decode error", "input": {}}]
            ) from None
        # `null` is a body (not an absent one): refused like any other non-object, never read as `{}`.
        absent = not event.decoded_body
        if not absent and not isinstance(body, dict):
            raise RequestValidationError(
                [{"type": "model_type", "loc": ("body",), "msg": "not an object", "input": {}}]
            )
        return body
