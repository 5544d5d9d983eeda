"""The Python client's stream order (clients/python): each seq once, in order, an early event held for its gap."""

from __future__ import annotations

from live_sessions_client import StreamOrder


def ev(seq: int) -> dict:
    return {"type": "broadcast", "data": seq, "seq": seq}


def test_events_out_of_order_come_out_in_order_and_duplicates_are_dropped():
    order = StreamOrder()
    assert order.baseline(4) == []
    assert order.accept(ev(6)) == [] and order.gap_since is not None  # 5 missing: held
    assert order.accept(ev(5)) == [ev(5), ev(6)] and order.gap_since is None
    assert order.accept(ev(5)) == [] and order.accept(ev(3)) == []
    assert order.duplicates == 2 and order.last_seq == 6


def test_before_a_baseline_everything_waits_then_what_the_view_covers_is_dropped():
    order = StreamOrder()
    assert order.accept(ev(3)) == [] and order.accept(ev(2)) == []
    assert order.baseline(2) == [ev(3)]  # the joined view already has 1 and 2


def test_a_reset_starts_over_from_the_new_baseline():
    order = StreamOrder()
    order.baseline(1)
    order.accept(ev(9))
    assert order.reset(10) == [] and order.held == {} and order.last_seq == 10
    assert order.accept(ev(11)) == [ev(11)]


def test_too_many_held_is_overflowing():
    order = StreamOrder(max_held=2)
    order.baseline(0)
    for seq in (2, 3, 4):
        order.accept(ev(seq))
    assert order.overflowing
