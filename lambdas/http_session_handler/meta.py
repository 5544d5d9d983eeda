"""Service routes: health."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from session_runtime.observability import logger
from session_runtime.runtime import get_runtime

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
