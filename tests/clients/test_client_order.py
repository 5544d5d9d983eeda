"""The Python client's stream order (live_sessions_client/stream.py, the twin of clients/js/src/stream.ts):
each seq once, in order, an early event held for its gap, a vouched-missing seq skipped."""

from __future__ import annotations

from typing import Any

from live_sessions_client import StreamOrderer


def ev(seq: int) -> dict[str, Any]:
    return {"type": "broadcast", "data": seq, "seq": seq}


def orderer(max_buffered: int = 256) -> tuple[StreamOrderer[dict[str, Any]], list[int]]:
    seen: list[int] = []
    return StreamOrderer(lambda event: seen.append(event["seq"]), max_buffered), seen


def test_events_out_of_order_come_out_in_order_and_duplicates_are_dropped() -> None:
    order, seen = orderer()
    order.release(4)
    assert order.push(ev(6)) == "gap" and order.has_gap
    assert order.push(ev(5)) == "delivered" and seen == [5, 6] and not order.has_gap
    assert order.push(ev(5)) == "duplicate" and order.push(ev(3)) == "duplicate"
    assert order.stats.duplicates == 2 and order.last == 6


def test_before_a_baseline_everything_waits_then_what_the_view_covers_is_dropped() -> None:
    order, seen = orderer()
    assert order.push(ev(3)) == "held" and order.push(ev(2)) == "held"
    order.release(2)  # the joined view already has 1 and 2
    assert seen == [3]


def test_a_recovered_resume_releases_in_order_after_the_last_delivered() -> None:
    order, seen = orderer()
    order.release(0)
    order.push(ev(1))
    order.hold()  # a reconnect's join is being answered
    assert order.push(ev(3)) == "held" and order.push(ev(2)) == "held"
    order.release()
    assert seen == [1, 2, 3]


def test_the_speakers_own_broadcast_is_no_gap() -> None:
    order, seen = orderer()
    order.release(0)
    order.mark_seen(1)
    assert order.push(ev(2)) == "delivered" and seen == [2]


def test_seqs_the_server_vouches_are_missing_are_skipped() -> None:
    order, seen = orderer()
    order.release(1)
    order.push(ev(4))
    order.skip([2, 3])
    assert seen == [4] and order.stats.skipped == 2 and not order.has_gap


def test_a_hole_the_server_cannot_fill_is_skipped_to_the_first_buffered_event() -> None:
    order, seen = orderer()
    order.release(1)
    order.push(ev(5))
    order.push(ev(6))
    assert list(order.skip_gap()) == [2, 3, 4] and seen == [5, 6]


def test_a_full_buffer_overflows_keeping_the_nearest_events() -> None:
    order, _ = orderer(max_buffered=2)
    order.release(0)
    assert [order.push(ev(seq)) for seq in (2, 3, 4)] == ["gap", "gap", "overflow"]
    assert order.buffered == 2
