"""The one mapping from what went wrong to the HTTP API's answer.

Every error answer is `{"error": {"code", "message", "requestId", "field"?}}` (INVALID_TRANSITION adds
`from` and `to`), and every one is counted: one `Error` metric per answer with an `ErrorCode` dimension,
emitted as its own EMF document (`single_metric`) so the dimension never leaks onto this invocation's other
metrics.

- `DomainError` (the session schema's refusals): its own status, code, message and details;
- request validation (Powertools, pydantic): 400 VALIDATION_ERROR naming the first bad input. Body fields
  are named by their path inside the body (`title`, `a.b`); the body as a whole (malformed JSON, not an
  object, an empty PATCH) is `body`; query, path and header inputs by their names (`limit`, `sessionId`,
  `Idempotency-Key`);
- a body sent as something other than JSON: 415 UNSUPPORTED_MEDIA_TYPE, field `content-type`;
- no route for the path: 404 NOT_FOUND; a known path with another method: 405 METHOD_NOT_ALLOWED + `Allow`;
- DynamoDB throttling the request: 429 RATE_LIMITED with `Retry-After: 1`;
- an AWS call that got no answer in time (timeouts.py): 503 SERVICE_UNAVAILABLE with `Retry-After: 1`;
- anything else (including a response that fails its own schema): 500 INTERNAL_ERROR with a fixed
  message; the exception is logged with its traceback, never sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ResponseValidationError,
)
from botocore.exceptions import ClientError

from session_runtime import metric_names
from session_runtime.observability import count_by, logger
from session_schema.errors import DomainError, ServiceUnavailable
from session_store.aws_errors import UNANSWERED_CALL_ERRORS, aws_refusal

INTERNAL_MESSAGE = "something went wrong on our side; it has been logged"
ERROR_METRIC = metric_names.ERROR
ERROR_CODE_DIMENSION = metric_names.ERROR_CODE

_OBJECT_EXPECTED = {"model_type", "model_attributes_type", "dict_type"}
_HEADER_NAMES = {"idempotency-key": "Idempotency-Key", "authorization": "Authorization"}


def error_response(
    app: APIGatewayHttpResolver,
    status: int,
    code: str,
    message: str,
    details: dict[str, object] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    """The contract's error body, counted as an `Error` metric with its code."""
    body = {"error": {"code": code, "message": message, "requestId": request_id(app), **(details or {})}}
    count_error(code)
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def request_id(app: APIGatewayHttpResolver) -> str | None:
    try:
        return app.current_event.request_context.request_id
    except (AttributeError, KeyError, TypeError):
        return None


def count_error(code: str) -> None:
    count_by(ERROR_METRIC, ERROR_CODE_DIMENSION, code)


# ------------------------------------------------------------------ validation errors -> field names


def field_of(loc: Iterable[Any]) -> str:
    """`("body", "title")` -> `title`; `("body", "events", 3, "data")` -> `events[3].data`; `("body", 12)` (JSON
    decode position) -> `body`; `("query", "limit")` -> `limit`."""
    parts = list(loc)
    if not parts:
        return "body"
    where, rest = parts[0], _path(parts[1:])
    if where == "body":
        return ".".join(rest) if rest else "body"
    if where == "header" and rest:
        return _HEADER_NAMES.get(rest[0].lower(), rest[0])
    return ".".join(rest) if rest else str(where)


def _path(parts: list[Any]) -> list[str]:
    """Names, each list index attached to the name before it (`events`, 3 -> `events[3]`); an index with no name
    before it (a JSON decode position) is dropped."""
    names: list[str] = []
    for part in parts:
        if isinstance(part, str):
            names.append(part)
        elif isinstance(part, int) and names:
            names[-1] += f"[{part}]"
    return names


def describe(error: dict[str, Any]) -> str:
    """A short, safe description of one pydantic error (no input echoed, no class names)."""
    kind = error.get("type", "")
    if kind == "json_invalid":
        return "is not valid JSON"
    if kind in _OBJECT_EXPECTED:
        return "must be a JSON object"
    if kind == "extra_forbidden":
        return "is not a known field"
    if kind == "missing":
        return "is required"
    message = str(error.get("msg") or "is not valid")
    message = re.sub(r"^Value error, ", "", message)
    return message[:200]


def first_validation_problem(errors: list[dict[str, Any]]) -> tuple[str, str]:
    if not errors:
        return "body", "is not valid"
    error = errors[0]
    return field_of(error.get("loc", ())), describe(error)


# ------------------------------------------------------------------ registration


def register(app: APIGatewayHttpResolver, allowed_methods: Callable[[str], list[str]]) -> None:
    """Install the exception handlers on the resolver (and its included routers)."""

    @app.exception_handler(DomainError)
    def _domain(error: DomainError) -> Response[dict[str, Any]]:
        if error.status >= 500:
            logger.error("domain error answered as 5xx", extra={"code": error.code, "detail": error.message})
            return error_response(app, error.status, error.code, INTERNAL_MESSAGE)
        logger.info("request refused", extra={"code": error.code, "status": error.status})
        headers = {
            401: {"WWW-Authenticate": 'Bearer realm="live-sessions"'},
            429: {"Retry-After": "1"},  # a transaction the table throttled, as for a throttled request
        }.get(error.status)
        return error_response(app, error.status, error.code, error.message, error.details(), headers)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response[dict[str, Any]]:
        field, problem = first_validation_problem(list(error.errors()))
        logger.info("request refused", extra={"code": "VALIDATION_ERROR", "field": field})
        return error_response(app, 400, "VALIDATION_ERROR", f"{field}: {problem}", {"field": field})

    @app.exception_handler(RequestUnsupportedContentType)
    def _media_type(error: RequestUnsupportedContentType) -> Response[dict[str, Any]]:
        return error_response(
            app, 415, "UNSUPPORTED_MEDIA_TYPE", "send the body as application/json", {"field": "content-type"}
        )

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[dict[str, Any]]:
        event = app.current_event
        allowed = allowed_methods(event.path)
        if allowed:
            return error_response(
                app,
                int(HTTPStatus.METHOD_NOT_ALLOWED),
                "METHOD_NOT_ALLOWED",
                f"{event.http_method} is not allowed here; allowed: {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        return error_response(app, 404, "NOT_FOUND", "no such route")

    @app.exception_handler(ResponseValidationError)
    def _bad_response(error: ResponseValidationError) -> Response[dict[str, Any]]:
        # Our own answer broke its schema: a bug, logged with what failed (locations only).
        logger.error("response failed its schema", extra={"errors": [e.get("loc") for e in error.errors()]})
        return error_response(app, 500, "INTERNAL_ERROR", INTERNAL_MESSAGE)

    @app.exception_handler(ClientError)
    def _aws(error: ClientError) -> Response[dict[str, Any]]:
        if aws_refusal(error) is not None:  # throttled past the client's retry: the caller retries
            code = error.response.get("Error", {}).get("Code", "")
            logger.warning("throttled by AWS", extra={"awsCode": code, "operation": error.operation_name})
            return error_response(
                app, 429, "RATE_LIMITED", "too many requests; retry shortly", headers={"Retry-After": "1"}
            )
        logger.exception("AWS call failed")
        return error_response(app, 500, "INTERNAL_ERROR", INTERNAL_MESSAGE)

    @app.exception_handler(list(UNANSWERED_CALL_ERRORS))
    def _unanswered(error: Exception) -> Response[dict[str, Any]]:
        # A timeout or a dropped connection past the client's one retry (session_runtime/timeouts.py):
        # answered well inside API Gateway's 29 s, in our shape, so the client retries instead of waiting.
        logger.error("AWS call got no answer", extra={"error": type(error).__name__})
        unavailable = ServiceUnavailable()
        return error_response(
            app, unavailable.status, unavailable.code, unavailable.message, headers={"Retry-After": "1"}
        )

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[dict[str, Any]]:
        logger.exception("unhandled error")
        return error_response(app, 500, "INTERNAL_ERROR", INTERNAL_MESSAGE)
