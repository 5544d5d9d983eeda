"""The handler covers the route table: the deployed action routes are exactly the declared actions, each with
a function that performs it."""

from __future__ import annotations

from session_schema.routes import WS_ACTIONS, WS_ROUTES


def test_the_deployed_action_routes_are_exactly_the_declared_actions_each_performed():
    """routes.py keeps the names for the CDK stack (importable without handler code); the registry declares."""
    from connection_handler.actions import DISPATCH
    from session_protocol.frames import ACTIONS

    assert ACTIONS.names == WS_ACTIONS
    assert DISPATCH.missing() == []


def test_every_route_answers_only_where_the_table_says_it_returns_a_response(ws):
    """Action routes and $default answer with a body; $connect / $disconnect return a bare status."""
    from tests.support.ws_events import disconnect_event, message_event, new_connection_id

    session_id = ws.create_session().sessionId
    connection = ws.connected(session_id)
    for route in WS_ROUTES:
        if route.route_key in ("$connect", "$disconnect"):
            assert not route.returns_response
            continue
        assert route.returns_response
        result = ws.websocket(message_event(connection, {"action": route.route_key}, route_key=route.route_key))
        assert result["statusCode"] == 200 and result["body"].startswith('{"type":')
    assert "body" not in ws.websocket(disconnect_event(new_connection_id()))
