"""The handler covers the route table: every WebSocket route has a frame model and an action."""

from __future__ import annotations

from session_schema.routes import SPEAKER_ACTIONS, WS_ACTIONS, WS_ROUTES


def test_every_action_route_has_a_frame_model_and_an_implementation():
    from connection_handler.actions import ACTIONS
    from session_protocol.frames import FRAME_MODELS

    assert set(FRAME_MODELS) == set(WS_ACTIONS)
    assert set(ACTIONS) | {"ping"} == set(WS_ACTIONS)
    assert SPEAKER_ACTIONS <= set(ACTIONS)


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
