"""The HTTP API's Lambda entry point: one Powertools resolver, its routers, and `handler(event, context)`.

Routes live in one module per resource, each on its own Powertools `Router` (sessions, messages,
artifacts, meta), registered with `routing.api_route(router, "<METHOD> <path>", ...)`, which looks the
route up in the shared route table; tests/http/test_routes.py checks that every declared route is served.
"""

from __future__ import annotations

import functools
import json
import warnings
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from session_runtime.observability import logger, metrics, tracer
from session_runtime.powertools_compat import Encoder, install_request_validation
from session_runtime.runtime import get_runtime
from session_runtime.timeouts import retrying_throttles
from session_schema.ids import normalize_session_id

from . import artifacts, broadcasts, error_answers, messages, meta, session_data, sessions, stream
from .routing import api_route, methods_for_path
from .validation import RequestValidation

# Most answers carry no metric of their own (errors are single metrics); that is not worth a warning each.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


# Powertools' own serializer, except that NaN and Infinity (not JSON: `JSON.parse` rejects them) raise.
_SERIALIZER = functools.partial(json.dumps, separators=(",", ":"), cls=Encoder, allow_nan=False)


def create_app() -> APIGatewayHttpResolver:
    resolver = APIGatewayHttpResolver(
        enable_validation=True,
        serializer=_SERIALIZER,
        # An answer that breaks its own schema is our bug: 500 INTERNAL_ERROR, never a 4xx.
        response_validation_error_http_code=HTTPStatus.INTERNAL_SERVER_ERROR,
    )
    install_request_validation(resolver, RequestValidation())  # identity first, JSON-only bodies
    for module in (sessions, messages, broadcasts, stream, artifacts, session_data, meta):
        resolver.include_router(module.router)

    cache: dict[str, Any] = {}  # the routes are fixed once built: one document per process

    @api_route(resolver, "GET /openapi.json", summary="This API's OpenAPI document", tags=["service"], uses_table=False)
    def openapi_document() -> Response[dict[str, Any]]:
        if "document" not in cache:
            from . import openapi  # Powertools' OpenAPI models load for this route only (docs/figures.md, coldstart)

            cache["document"] = openapi.document(resolver, get_runtime().settings)
        return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=cache["document"])

    error_answers.register(resolver, lambda path: methods_for_path(resolver, path))
    return resolver


app = create_app()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    route_key = event.get("routeKey")
    raw_id = (event.get("pathParameters") or {}).get("sessionId")
    if isinstance(raw_id, str):
        logger.append_keys(sessionId=normalize_session_id(raw_id) or raw_id[:64])
    tracer.put_annotation("routeKey", str(route_key))
    with retrying_throttles(context):
        response = app.resolve(event, context)
    logger.info("answered", extra={"routeKey": route_key, "status": int(response.get("statusCode", 0))})
    return response
