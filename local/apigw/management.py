"""API Gateway's `@connections` management API: POST (send a frame), DELETE (close), GET (describe)
`/@connections/{connectionId}`, with its errors (400, 410 GoneException, 413, 429 LimitExceededException).

The rules live here once; two servers answer with them: local/apigw/management_endpoint.py on the WebSocket
gateway's loop (the handlers' WS_CALLBACK_URL) and the HTTP gateway under CONNECTIONS_PREFIX. The live
connections behind them are the WebSocket gateway's (ws_gateway.ConnectionRegistry, a ManagementBackend).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from session_schema import models

from local.http_response import HttpResponse

CONNECTIONS_PREFIX = "/_connections"  # WS_CALLBACK_URL = http://<host>:<port>/_connections


class ConnectionGone(Exception):
    """The connection does not exist (any more): the management API's 410 GoneException."""


class ClientBufferFull(Exception):
    """The client is not reading and its buffer is full: the management API's 429 LimitExceededException."""


class ManagementBackend:
    """What the @connections endpoint needs from the WebSocket gateway (see ws_gateway.ConnectionRegistry):
    coroutines on the gateway's loop, and `run` to call them from another thread (the HTTP gateway's)."""

    async def post(self, connection_id: str, data: bytes) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    async def delete(self, connection_id: str) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self, connection_id: str) -> dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError

    def run(self, coroutine: Any) -> Any:  # pragma: no cover - interface
        raise NotImplementedError


CONNECTION_ID_PATTERN = re.compile(models.CONNECTION_ID_PATTERN)  # used with fullmatch
MAX_POST_BYTES = 128 * 1024


def management_error(status: int, error_type: str, message: str | None) -> HttpResponse:
    return HttpResponse.json(
        status,
        {"message": message},
        [("x-amzn-errortype", error_type), ("x-amzn-requestid", str(uuid.uuid4()))],
    )


async def answer_management(backend: ManagementBackend, method: str, connection_id: str, body: bytes) -> HttpResponse:
    """One call of the API Gateway management API: POST/GET/DELETE /@connections/{connectionId}, on the
    WebSocket gateway's loop (local/apigw/management_endpoint.py serves it there; `handle_management` from the
    HTTP gateway's threads)."""
    if not CONNECTION_ID_PATTERN.fullmatch(connection_id):
        return management_error(400, "BadRequestException", "Invalid connectionId")
    try:
        if method == "POST":
            if len(body) > MAX_POST_BYTES:
                return management_error(413, "PayloadTooLargeException", "Message too long")
            await backend.post(connection_id, body)
            return HttpResponse(200, [("x-amzn-requestid", str(uuid.uuid4()))])
        if method == "DELETE":
            await backend.delete(connection_id)
            return HttpResponse(204, [("x-amzn-requestid", str(uuid.uuid4()))])
        if method == "GET":
            return HttpResponse.json(200, backend.describe(connection_id))
    except ConnectionGone:
        return management_error(410, "GoneException", None)
    except (ClientBufferFull, TimeoutError):
        return management_error(429, "LimitExceededException", "the client is not reading its messages")
    return management_error(403, "ForbiddenException", "Forbidden")


def handle_management(backend: ManagementBackend, method: str, connection_id: str, body: bytes) -> HttpResponse:
    """`answer_management` from another thread (the HTTP gateway's)."""
    try:
        response: HttpResponse = backend.run(answer_management(backend, method, connection_id, body))
    except ConnectionGone:  # the WebSocket gateway is not running
        return management_error(410, "GoneException", None)
    return response
