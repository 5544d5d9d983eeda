"""The Powertools internals the HTTP API relies on (session_runtime/powertools_compat.py), each exercised
on a bare resolver, for the version the module was written for. An upgrade that moves one fails here."""

from __future__ import annotations

import decimal
import json
import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pydantic
import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.api_gateway import Router

from session_runtime import powertools_compat as compat

ROOT = Path(__file__).resolve().parents[2]


class Thing(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    name: str


def _event(method: str, path: str, body: str | None = None) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7"},
            "requestId": "req-1",
            "stage": "$default",
        },
        "body": body,
        "isBase64Encoded": False,
    }


def _things_app(middleware: compat.RequestValidationMiddleware) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)
    compat.install_request_validation(app, middleware)

    @app.post("/things")
    def create(thing: Thing) -> dict[str, str]:
        return {"got": thing.name}

    return app


@pytest.mark.parametrize("requirements", ["requirements.txt", "requirements-emulator.txt"])
def test_written_for_the_pinned_and_installed_powertools(requirements: str) -> None:
    pins = re.findall(r"^aws-lambda-powertools(?:\[[^]]*\])?==(\S+)", (ROOT / requirements).read_text(), re.M)
    assert pins == [compat.POWERTOOLS_VERSION], f"{requirements} pins {pins}: re-check powertools_compat.py's hooks"
    assert version("aws-lambda-powertools") == compat.POWERTOOLS_VERSION


def test_the_installed_middleware_runs_before_validation_and_supplies_the_body() -> None:
    seen: list[str] = []

    class Hooked(compat.RequestValidationMiddleware):
        def before(self, app: Any) -> None:
            seen.append(app.current_event.raw_path)

        def body(self, app: Any) -> Any:
            return {"name": "from-the-hook"}

    answer = _things_app(Hooked()).resolve(_event("POST", "/things", '{"name": "sent"}'), {})
    assert (answer["statusCode"], json.loads(answer["body"])) == (200, {"got": "from-the-hook"})
    assert seen == ["/things"]


def test_a_refusal_in_before_stops_the_request_before_the_route() -> None:
    class Refusing(compat.RequestValidationMiddleware):
        def before(self, app: Any) -> None:
            raise PermissionError("who are you")

    with pytest.raises(PermissionError):
        _things_app(Refusing()).resolve(_event("POST", "/things", '{"name": "sent"}'), {})


def test_the_default_body_is_powertools_own_parsing_and_validation_still_runs() -> None:
    app = _things_app(compat.RequestValidationMiddleware())
    ok = app.resolve(_event("POST", "/things", '{"name": "sent"}'), {})
    assert (ok["statusCode"], json.loads(ok["body"])) == (200, {"got": "sent"})
    refused = app.resolve(_event("POST", "/things", '{"name": 5, "extra": 1}'), {})
    assert refused["statusCode"] == 422  # Powertools' own validation answer (the API maps it to 400)


def test_resolver_routes_lists_static_dynamic_and_router_routes() -> None:
    app = APIGatewayHttpResolver()
    router = Router()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {}

    @app.patch("/things/<thing_id>")
    def patch(thing_id: str) -> dict[str, str]:
        return {}

    @router.delete("/things/<thing_id>/parts/<part>")
    def delete(thing_id: str, part: str) -> dict[str, str]:
        return {}

    app.include_router(router)
    assert sorted((r.method, r.path) for r in compat.resolver_routes(app)) == [
        ("DELETE", "/things/<thing_id>/parts/<part>"),
        ("GET", "/health"),
        ("PATCH", "/things/<thing_id>"),
    ]


def test_the_encoder_writes_decimals_and_pydantic_models() -> None:
    assert json.dumps({"n": decimal.Decimal("1.50"), "t": Thing(name="x")}, cls=compat.Encoder) == (
        '{"n": "1.50", "t": {"name": "x"}}'
    )
