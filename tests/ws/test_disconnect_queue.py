"""The disconnect queue's batches (connection_handler/disconnect.py), in the SQS event shape Lambda's mapping hands
the connection function: each record's leave, a failing one reported alone (`batchItemFailures`) for the queue to
deliver again, a message that is not one dropped (logged, counted) rather than retried into the dead-letter queue,
and the route's own event (the emulated deploy's) the same leave."""

from __future__ import annotations

import json

from session_runtime import metric_names
from session_schema.disconnect_message import DisconnectMessage, message_body

from tests.support.ws_events import disconnect_event, disconnect_message, disconnect_queue_event


def test_a_batch_of_leaves_frees_each_seat_and_tells_the_speaker(ws, live):
    leaving = [ws.connected(live.session_id) for _ in range(3)]
    staying = ws.connected(live.session_id)
    answer = ws.disconnect_batch(*(disconnect_message(cid) for cid in leaving))
    assert answer == {"batchItemFailures": []}
    assert ws.listeners(live.session_id) == [staying]
    assert ws.listener_count(live.session_id) == 1
    assert ws.received(live.speaker, "listenerCount")[-1]["listenerCount"] == 1


def test_a_message_delivered_again_changes_nothing(ws, live):
    """SQS delivers at least once: a leave that already happened finds the connection unregistered."""
    listener = ws.connected(live.session_id)
    staying = ws.connected(live.session_id)
    body = disconnect_message(listener)
    assert ws.disconnect_batch(body) == {"batchItemFailures": []}
    told = len(ws.received(live.speaker, "listenerCount"))
    assert ws.disconnect_batch(body) == {"batchItemFailures": []}
    assert ws.listeners(live.session_id) == [staying]
    assert ws.listener_count(live.session_id) == 1
    assert len(ws.received(live.speaker, "listenerCount")) == told  # no second leave told


def test_only_the_record_whose_leave_failed_is_reported_for_redelivery(ws, live, monkeypatch):
    failing, leaving = ws.connected(live.session_id), ws.connected(live.session_id)
    store = ws.runtime.store
    unregister = store.unregister_connection

    def unregister_or_fail(connection_id: str):
        if connection_id == failing:
            raise RuntimeError("DynamoDB did not answer")
        return unregister(connection_id)

    monkeypatch.setattr(store, "unregister_connection", unregister_or_fail)
    event = disconnect_queue_event(disconnect_message(failing), disconnect_message(leaving))
    answer = ws.websocket(event)
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert ws.listeners(live.session_id) == [failing]
    monkeypatch.setattr(store, "unregister_connection", unregister)
    assert ws.websocket({"Records": event["Records"][:1]}) == {"batchItemFailures": []}  # the queue's redelivery
    assert ws.listeners(live.session_id) == []


def test_a_message_that_is_not_one_is_dropped_and_counted_not_retried(ws, live, capsys, caplog):
    listener = ws.connected(live.session_id)
    bad = ["not json", json.dumps({"disconnectStatusCode": "1000"}), json.dumps({"connectionId": ""})]
    answer = ws.disconnect_batch(*bad, disconnect_message(listener))
    assert answer == {"batchItemFailures": []}  # nothing a redelivery could fix
    assert ws.listeners(live.session_id) == []  # the good one in the same batch left
    assert [r.getMessage() for r in caplog.records].count("not a disconnect message; dropped") == len(bad)
    assert f'"{metric_names.BAD_DISCONNECT_MESSAGES}":[1.0,1.0,1.0]' in capsys.readouterr().out


def test_a_close_reason_cannot_name_another_connection(ws, live):
    """The reason is the one value the client chooses: percent-encoded in the message, so a quote in it cannot end
    its JSON string and add a `connectionId` (JSON's last duplicate would win)."""
    victim, attacker = ws.connected(live.session_id), ws.connected(live.session_id)
    reason = f'x","connectionId":"{victim}'
    body = disconnect_message(attacker, 1000, reason)
    message = DisconnectMessage.parse(body)
    assert (message.connectionId, message.disconnectReason) == (attacker, reason)
    assert ws.disconnect_batch(body) == {"batchItemFailures": []}
    assert ws.listeners(live.session_id) == [victim]


def test_the_message_carries_each_declared_field_of_the_disconnect(ws):
    context = disconnect_event("AbC123=", 1006, "gone away")["requestContext"]
    message = DisconnectMessage.parse(message_body(context))
    assert message == DisconnectMessage(
        connectionId="AbC123=",
        disconnectStatusCode=1006,
        disconnectReason="gone away",
        requestTimeEpoch=context["requestTimeEpoch"],
    )


def test_the_routes_own_event_is_the_same_leave(ws, live):
    """The emulated deploy invokes the function for `$disconnect` (infra/emulator.py)."""
    listener = ws.connected(live.session_id)
    assert ws.websocket(disconnect_event(listener)) == {"statusCode": 200}
    assert ws.listeners(live.session_id) == []


def test_the_routes_own_event_reads_its_close_reason_as_given(ws, live, caplog):
    """Read through the message the template would make (encoded, then decoded once): a `+` or `%` in the reason
    stays what the client sent."""
    listener = ws.connected(live.session_id)
    assert ws.websocket(disconnect_event(listener, 1000, "50%+off")) == {"statusCode": 200}
    (line,) = [r for r in caplog.records if r.getMessage() == "disconnected"]
    assert line.disconnectReason == "50%+off"
