"""Service routes: health, the WebSocket API's AsyncAPI document and the lifecycle events' JSON Schemas
(`/openapi.json` is in app.py)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from session_runtime.observability import logger
from session_runtime.runtime import get_runtime
from session_schema.lifecycle import detail_schemas

from .routing import answer_as, api_route
from .schemas import Health

router = Router()


@api_route(
    router,
    "GET /health",
    summary="200 when the table answers, 503 otherwise",
    model=Health,
    other_responses={503: ("the table did not answer", Health)},
    uses_table=False,  # any failure of the table is the 503 answer
    tags=["service"],
)
def health() -> Response[Health]:
    try:
        get_runtime().store.ping()
    except Exception:  # noqa: BLE001 - any failure to reach the table is "unavailable"
        logger.exception("health check: the table did not answer")
        unavailable = answer_as(Health, {"status": "unavailable"})
        return Response(status_code=503, content_type=content_types.APPLICATION_JSON, body=unavailable)
    ok = answer_as(Health, {"status": "ok"})
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=ok)


@cache
def _asyncapi_document() -> dict[str, Any]:
    # Imported on first use: the WebSocket models are not needed by any other route of this function.
    from session_protocol import asyncapi

    return asyncapi.document()


@api_route(
    router,
    "GET /asyncapi.json",
    summary="The WebSocket API's AsyncAPI 3.0 document: actions, answers, pushed events and refusals",
    tags=["service"],
    uses_table=False,
)
def asyncapi_document() -> Response[dict[str, Any]]:
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=_asyncapi_document())


@api_route(
    router,
    "GET /lifecycle-events.json",
    summary="The JSON Schema of each lifecycle event's `detail`, by detail-type (the stack's EventBridge bus)",
    tags=["service"],
    uses_table=False,
)
def lifecycle_event_schemas() -> Response[dict[str, Any]]:
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=detail_schemas())
