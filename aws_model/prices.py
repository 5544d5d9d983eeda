"""List prices the cost model uses, declared once: each with its unit, the page it comes from and the day
that page was read. US East (N. Virginia), first tier, no free tier, no discount.

`bench cost` prices what the handlers measurably do with these; AWS AppSync Events and Ably are priced for
the same workload as the managed alternatives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

CHECKED = date(2026, 12, 6)  # the day every source below was read (stored copies of the pages)
MILLION = 1_000_000

_APIGW = "https://aws.amazon.com/api-gateway/pricing/"
_LAMBDA = "https://aws.amazon.com/lambda/pricing/"
_DYNAMODB = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
_APPSYNC = "https://aws.amazon.com/appsync/pricing/"
_ABLY = "https://ably.com/pricing"


@dataclass(frozen=True)
class Price:
    name: str
    dollars: float  # per `per` units
    per: int
    unit: str
    source: str
    checked: date = CHECKED
    note: str = ""

    @property
    def each(self) -> float:
        """Dollars for one unit."""
        return self.dollars / self.per


WEBSOCKET_MESSAGE = Price(
    "API Gateway WebSocket messages",
    1.00,
    MILLION,
    "messages",
    _APIGW,
    note="first billion a month; sent and received alike, metered in 32 KB increments",
)
WEBSOCKET_MESSAGE_METER_BYTES = 32 * 1024
WEBSOCKET_CONNECTION_MINUTE = Price("API Gateway WebSocket connection minutes", 0.25, MILLION, "minutes", _APIGW)
HTTP_API_REQUEST = Price(
    "API Gateway HTTP API requests", 1.00, MILLION, "requests", _APIGW, note="first 300 million a month, per 512 KB"
)
LAMBDA_ARM_GB_SECOND = Price(
    "Lambda duration, arm64", 0.0000133334, 1, "GB-seconds", _LAMBDA, note="first 7.5 billion GB-s a month; per 1 ms"
)
LAMBDA_REQUEST = Price("Lambda requests", 0.20, MILLION, "requests", _LAMBDA)
DYNAMODB_READ_UNIT = Price("DynamoDB on-demand read request units", 0.125, MILLION, "read request units", _DYNAMODB)
DYNAMODB_WRITE_UNIT = Price("DynamoDB on-demand write request units", 0.625, MILLION, "write request units", _DYNAMODB)
APPSYNC_EVENTS_OPERATION = Price(
    "AWS AppSync Events operations",
    1.00,
    MILLION,
    "operations",
    _APPSYNC,
    note="a publish and each delivery to a subscriber are operations; payloads metered in 5 KB increments",
)
APPSYNC_EVENTS_OPERATION_METER_BYTES = 5 * 1024
APPSYNC_EVENTS_CONNECTION_MINUTE = Price("AWS AppSync Events connection minutes", 0.08, MILLION, "minutes", _APPSYNC)
ABLY_MESSAGE = Price(
    "Ably messages",
    2.50,
    MILLION,
    "messages",
    _ABLY,
    note="pay-as-you-go overage rate; a publish and each delivery are messages (1 publish to 10 = 11); "
    "connections and channels are billed by package, left out",
)

PRICES: tuple[Price, ...] = (
    WEBSOCKET_MESSAGE,
    WEBSOCKET_CONNECTION_MINUTE,
    HTTP_API_REQUEST,
    LAMBDA_ARM_GB_SECOND,
    LAMBDA_REQUEST,
    DYNAMODB_READ_UNIT,
    DYNAMODB_WRITE_UNIT,
    APPSYNC_EVENTS_OPERATION,
    APPSYNC_EVENTS_CONNECTION_MINUTE,
    ABLY_MESSAGE,
)


def metered(size: int, increment: int) -> int:
    """How many billable units a payload of `size` bytes is when metered in `increment`-byte steps (at least 1)."""
    return max(1, -(-size // increment))
