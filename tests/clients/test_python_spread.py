"""The Python client spreads what a whole session does at once: the first reconnect after a drop over the time API
Gateway takes to admit the session's listeners, and each connection's renewal over the last fifth of its delay."""

from __future__ import annotations

from live_sessions_client.backoff import RECONNECT_SPREAD_MAX, reconnect_spread, renewal_delay


def test_a_keynotes_reconnects_spread_over_the_time_api_gateway_admits_them_in_and_a_small_ones_barely():
    assert reconnect_spread(100_000) == 200.0  # 500 new connections a second
    assert reconnect_spread(50) == 0.1
    assert reconnect_spread(10**7) == RECONNECT_SPREAD_MAX


def test_renewals_of_joiners_of_one_moment_fall_apart_but_always_before_the_delay_asked():
    assert renewal_delay(6900, random=lambda: 0.0) == 6900
    assert renewal_delay(6900, random=lambda: 1.0) == 6900 * 0.8
