"""What the local stack's HTTP server answers: the HTTP gateway's responses, and those of the endpoints
it also serves (Lambda's Invoke API, the `@connections` management API). Its own module, so that the
Lambda and API Gateway packages both use it without importing each other."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> HttpResponse:
        body = json.dumps(payload, allow_nan=False).encode()
        return cls(status, [("content-type", "application/json"), *headers], body)
