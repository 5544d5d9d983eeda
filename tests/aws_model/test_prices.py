"""The price table: declared once, each price sourced and dated; and metering by payload size."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlparse

from aws_model import prices
from aws_model.prices import PRICES, Price, metered


def test_every_price_declared_is_in_the_one_table_once_sourced_and_dated():
    declared = [value for value in vars(prices).values() if isinstance(value, Price)]
    assert set(declared) == set(PRICES)
    assert len({price.name for price in PRICES}) == len(PRICES)
    for price in PRICES:
        assert price.dollars > 0 and price.per > 0, price
        assert urlparse(price.source).scheme == "https", price
        assert price.checked <= date.today(), price


def test_a_price_for_one_unit():
    assert prices.WEBSOCKET_MESSAGE.each == 1.00 / 1_000_000


def test_payloads_are_metered_per_started_increment():
    step = prices.WEBSOCKET_MESSAGE_METER_BYTES
    assert [metered(size, step) for size in (0, 1, step, step + 1, 3 * step)] == [1, 1, 1, 2, 3]
