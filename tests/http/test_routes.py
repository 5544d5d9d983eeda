"""The handler serves exactly the route table, documents every route, and reads real v2 events."""

from __future__ import annotations

import re

import pytest

from http_session_handler.app import app
from http_session_handler.routing import BEARER_SCHEME, SIGV4_SCHEME, registered_routes
from session_schema.routes import HTTP_ROUTES, OPTIONAL_AUTH_PATHS

TABLE = {(r.method, r.path) for r in HTTP_ROUTES}
SAMPLE_BODIES = {
    "PATCH /sessions/{sessionId}": {"muted": True},
    "POST /sessions/{sessionId}/messages": {"text": "hello"},
    "POST /sessions/{sessionId}/artifacts": {"kind": "image", "contentType": "image/png", "fileName": "a.png"},
    "PATCH /sessions/{sessionId}/artifacts/{artifactId}": {"status": "processing"},
}
# The routes whose caller proves itself with a bearer token (the IAM route's signer: tests/http/test_broadcasts.py).
SIGNED_IN = [r for r in HTTP_ROUTES if r.auth and r.auth_kind == "token"]


def concrete(path: str, session_id: str) -> str:
    return path.replace("{sessionId}", session_id).replace("{artifactId}", "art_01JABCDEFGHJKMNPQRSTVWXYZ0")


def test_the_resolver_serves_exactly_the_route_table():
    served = registered_routes(app)
    assert served == TABLE, f"missing: {sorted(TABLE - served)}; not in the table: {sorted(served - TABLE)}"


@pytest.mark.parametrize("route", SIGNED_IN, ids=lambda r: r.route_key)
def test_every_signed_in_route_refuses_an_anonymous_caller_before_judging_its_input(api, route):
    session = api.create("alice")
    body = {"text": "x"} if route.method in ("POST", "PATCH") else None
    answer = api.http(route.method, concrete(route.path, session["sessionId"]), body=body)
    assert answer.status == 401, answer.raw_body
    assert answer.error["code"] == "UNAUTHORIZED"
    assert answer.headers.get("WWW-Authenticate", "").startswith("Bearer")


@pytest.mark.parametrize("route", SIGNED_IN, ids=lambda r: r.route_key)
def test_every_signed_in_route_verifies_the_bearer_token_itself(api, route):
    """No gateway authorizer runs in front of the handler: it verifies the token, and refuses a forged one
    with the contract's 401 (code, message, requestId)."""
    session = api.create("alice")
    path = concrete(route.path, session["sessionId"])
    body = SAMPLE_BODIES.get(route.route_key)
    answer = api.http(route.method, path, body=body, token=api.token("alice"))
    assert answer.status not in (401, 403) and answer.status < 500, answer.raw_body
    forged = api.http(route.method, path, body=body, token=api.token("alice") + "x")
    assert forged.status == 401 and forged.error["code"] == "UNAUTHORIZED"
    assert forged.error["message"] and forged.error["requestId"]


def _with_claims(event: dict, user: str) -> dict:
    """Claims where an API Gateway JWT authorizer would put them (no authorizer is configured)."""
    event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": user, "token_use": "access"}, "scopes": None}}
    return event


def test_claims_in_the_event_are_never_trusted_only_the_verified_token(api):
    """Only a verified bearer token identifies the caller: `requestContext.authorizer` claims (which nothing
    puts there without an authorizer) neither sign anyone in nor override the token's subject."""
    from tests.support.http_events import http_event

    anonymous = api.http_answer(_with_claims(http_event("GET", "/sessions"), "alice"))
    assert anonymous.status == 401 and anonymous.error["code"] == "UNAUTHORIZED"
    event = _with_claims(http_event("POST", "/sessions", body={}, user="bob"), "alice")
    mine = api.http_answer(event)
    assert mine.status == 201 and mine.body["ownerId"] == "bob"
    assert api.http("GET", "/sessions", user="alice").body["items"] == []


def test_anonymous_routes_need_no_identity(api):
    assert api.http("GET", "/health").status == 200
    assert api.http("GET", "/openapi.json").status == 200
    session = api.create("alice")
    sid = session["sessionId"]
    png = {"kind": "image", "contentType": "image/png", "fileName": "slide.png"}
    artifact = api.http("POST", f"/sessions/{sid}/artifacts", user="alice", body=png).body["artifact"]["artifactId"]
    api.http("PATCH", f"/sessions/{sid}/artifacts/{artifact}", user="alice", body={"shared": True})
    # Anyone reads what is shared with listeners: the shared listing, and a shared artifact's download.
    query = {"/sessions/{sessionId}/artifacts": {"shared": "true"}}
    for path in OPTIONAL_AUTH_PATHS:
        url = concrete(path, sid).replace("art_01JABCDEFGHJKMNPQRSTVWXYZ0", artifact)
        assert api.http("GET", url, query=query.get(path, {})).status == 200, path


def test_unknown_route_is_404_not_found_and_wrong_method_is_405_with_allow(api):
    missing = api.http("GET", "/nowhere")
    assert missing.status == 404 and missing.error["code"] == "NOT_FOUND"
    assert missing.error["requestId"]
    wrong = api.http("PUT", "/sessions", user="alice", body={})
    assert wrong.status == 405 and wrong.error["code"] == "METHOD_NOT_ALLOWED"
    assert set(wrong.headers["Allow"].split(", ")) == {"GET", "POST"}


# ------------------------------------------------------------------ OpenAPI


@pytest.fixture
def document(api):
    answer = api.http("GET", "/openapi.json")
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/json"
    return answer.body


def test_openapi_lists_every_served_route_with_its_answers_and_security(document):
    assert document["info"]["title"] == "Live Sessions API"
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert documented == registered_routes(app)
    by_key = {r.route_key: r for r in HTTP_ROUTES}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            route = by_key[f"{method.upper()} {path}"]
            responses = operation["responses"]
            successes = [code for code in responses if code.startswith("2")]
            resumable = ("DELETE /sessions/{sessionId}/artifacts/{artifactId}", "DELETE /sessions/{sessionId}/data")
            if route.route_key in resumable:  # 202: a large subtree, a large session
                assert "schema" in responses.pop("202")["content"]["application/json"]
                successes.remove("202")
            assert len(successes) == 1, (route.route_key, responses.keys())
            if successes[0] != "204":
                assert "schema" in responses[successes[0]]["content"]["application/json"], route.route_key
            for code in ("400", "500"):
                assert responses[code]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorResponse"
                }
            assert "422" not in responses or route.route_key == "POST /sessions"
            if route.auth_kind == "iam":
                assert operation["security"] == [{SIGV4_SCHEME: []}]
                assert "403" in responses
            elif route.auth:
                assert operation["security"] == [{BEARER_SCHEME: []}]
                assert "401" in responses
            elif route.path in OPTIONAL_AUTH_PATHS:
                assert {BEARER_SCHEME: []} in operation["security"]
            else:
                assert "security" not in operation
            if "{sessionId}" in path:
                names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
                assert "sessionId" in names


def test_openapi_documents_request_bodies_and_the_bearer_scheme(document):
    schemes = document["components"]["securitySchemes"]
    assert schemes[BEARER_SCHEME]["type"] == "http" and schemes[BEARER_SCHEME]["scheme"] == "bearer"
    assert schemes[SIGV4_SCHEME] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "x-amazon-apigateway-authtype": "awsSigv4",
        "description": schemes[SIGV4_SCHEME]["description"],
    }
    schemas = document["components"]["schemas"]
    create = schemas["CreateSessionRequest"]
    assert create["additionalProperties"] is False
    assert create["properties"]["title"]["anyOf"][0]["maxLength"] == 200
    assert schemas["UpdateSessionRequest"]["properties"]["status"]["anyOf"][0]["enum"] == ["active", "paused", "ended"]
    assert schemas["PostMessageRequest"]["properties"]["text"]["maxLength"] == 4000
    for method, path in (
        ("post", "/sessions"),
        ("patch", "/sessions/{sessionId}"),
        ("post", "/sessions/{sessionId}/messages"),
    ):
        body = document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        assert "#/components/schemas/" in str(body)
    params = {p["name"]: p for p in document["paths"]["/sessions"]["get"]["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 100 and params["limit"]["schema"]["minimum"] == 1
    headers = {p["name"] for p in document["paths"]["/sessions"]["post"]["parameters"] if p["in"] == "header"}
    assert headers == {"Idempotency-Key"} or headers == {"idempotency-key"}
    # Powertools' own validation shapes are not what this API answers, so they are not documented.
    assert not {"HTTPValidationError", "ValidationError"} & set(schemas)


def test_operations_are_named_as_the_route_table_names_them(document):
    named = {f"{m.upper()} {p}": op["operationId"] for p, ops in document["paths"].items() for m, op in ops.items()}
    assert named == {route.route_key: route.operation_id for route in HTTP_ROUTES}
    assert named["GET /sessions/{sessionId}"] == "getSession" and named["POST /sessions"] == "createSession"
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", name) for name in named.values())
    assert len(set(named.values())) == len(named)


def test_path_ids_are_documented_with_the_pattern_the_handler_applies(document):
    from session_schema.ids import SESSION_ID_INPUT_PATTERN, normalize_session_id

    for path, operations in document["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    assert parameter["schema"]["pattern"], (path, parameter["name"])
                    if parameter["name"] == "sessionId":
                        assert parameter["schema"]["pattern"] == SESSION_ID_INPUT_PATTERN
    pattern = re.compile(SESSION_ID_INPUT_PATTERN)
    for typed in ("quiet-river-482", " Quiet River 482 ", "quiet_river\t482", "quiet--river-482", "quiet-river-48"):
        assert bool(pattern.search(typed)) == (normalize_session_id(typed) is not None), typed


def test_an_integral_number_is_an_integer_as_the_document_says(api, document):
    """JSON Schema's `integer` includes 673.0; the API takes it as 673 and still refuses 673.5 and "673"."""
    schema = document["components"]["schemas"]["CreateSessionRequest"]["properties"]["maxListeners"]
    assert {"type": "integer", "minimum": 1, "maximum": 10000}.items() <= next(
        s for s in schema["anyOf"] if s.get("type") == "integer"
    ).items()
    created = api.http("POST", "/sessions", user="alice", body={"maxListeners": 673.0})
    assert created.status == 201 and created.body["maxListeners"] == 673
    for wrong in (673.5, "673", True, 10001.0):
        refused = api.http("POST", "/sessions", user="alice", body={"maxListeners": wrong})
        assert refused.status == 400 and refused.error["field"] == "maxListeners", wrong
