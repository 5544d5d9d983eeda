"""The AWS quotas this system meets, as one declared table: each with its value, unit, what it applies to,
whether AWS raises it on request, the page it comes from and the day that page was read.

The keynote work (the local stack enforcing them, `bench keynote`) and `bench cost` read them from here;
nothing else should restate these numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

Service = Literal["API Gateway", "DynamoDB", "Lambda"]
Unit = Literal["per second", "bytes", "seconds", "units per second", "actions", "executions", "executions per 10 s"]

CHECKED = date(2026, 12, 6)  # the day every source below was read (stored copies of the pages)

_APIGW_WEBSOCKET = "https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-execution-service-websocket-limits-table.html"
_APIGW_ACCOUNT = "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html"
_DDB_QUOTAS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"
_DDB_PARTITIONS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html"
_DDB_ON_DEMAND = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/pre-warming-on-demand-capacity-mode.html"
)
_DDB_TRANSACT = "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html"
_DDB_QUERY = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Pagination.html"
_LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
_LAMBDA_SCALING = "https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html"

KB = 1024


@dataclass(frozen=True)
class Limit:
    name: str
    service: Service
    value: float
    unit: Unit
    scope: str  # what one quota covers: an account and Region, a partition, an item, a connection...
    adjustable: bool  # AWS raises it on request (Service Quotas or Support)
    source: str
    checked: date = CHECKED
    note: str = ""


# -- API Gateway (WebSocket APIs) ---------------------------------------------------------------------------
NEW_CONNECTIONS_PER_SECOND = Limit(
    "new WebSocket connections", "API Gateway", 500, "per second", "account and Region", True, _APIGW_WEBSOCKET
)
WEBSOCKET_FRAME = Limit("WebSocket frame", "API Gateway", 32 * KB, "bytes", "frame", False, _APIGW_WEBSOCKET)
WEBSOCKET_MESSAGE = Limit(
    "WebSocket message payload",
    "API Gateway",
    128 * KB,
    "bytes",
    "message",
    False,
    _APIGW_WEBSOCKET,
    note="a message over 32 KB travels as several frames; a larger one closes the connection with 1009",
)
CONNECTION_DURATION = Limit(
    "WebSocket connection duration", "API Gateway", 2 * 3600, "seconds", "connection", False, _APIGW_WEBSOCKET
)
IDLE_TIMEOUT = Limit("WebSocket idle timeout", "API Gateway", 10 * 60, "seconds", "connection", False, _APIGW_WEBSOCKET)
INTEGRATION_TIMEOUT = Limit(
    "integration timeout", "API Gateway", 29, "seconds", "request", False, _APIGW_WEBSOCKET, note="50 ms to 29 s"
)
ACCOUNT_REQUESTS_PER_SECOND = Limit(
    "requests, including @connections (management API) calls",
    "API Gateway",
    10_000,
    "per second",
    "account and Region, shared by every API",
    True,
    _APIGW_ACCOUNT,
    note="token bucket, burst 5,000; a full client buffer also answers 429 (LimitExceededException)",
)

# -- DynamoDB -----------------------------------------------------------------------------------------------
PARTITION_WRITE_UNITS = Limit(
    "write units per partition", "DynamoDB", 1000, "units per second", "partition", False, _DDB_PARTITIONS
)
PARTITION_READ_UNITS = Limit(
    "read units per partition", "DynamoDB", 3000, "units per second", "partition", False, _DDB_PARTITIONS
)
ITEM_WRITE_UNITS = Limit(
    "write units per item",
    "DynamoDB",
    1000,
    "units per second",
    "item",
    False,
    _DDB_PARTITIONS,
    note="an item never splits: however isolated, it gets at most its partition's throughput",
)
ITEM_READ_UNITS = Limit(
    "read units per item",
    "DynamoDB",
    3000,
    "units per second",
    "item",
    False,
    _DDB_PARTITIONS,
    note=ITEM_WRITE_UNITS.note,
)
ITEM_SIZE = Limit("item size", "DynamoDB", 400 * KB, "bytes", "item", False, _DDB_QUOTAS)
TRANSACTION_ACTIONS = Limit("actions per transaction", "DynamoDB", 100, "actions", "transaction", False, _DDB_TRANSACT)
TRANSACTION_SIZE = Limit("transaction size", "DynamoDB", 4 * KB * KB, "bytes", "transaction", False, _DDB_TRANSACT)
QUERY_PAGE = Limit("Query page", "DynamoDB", KB * KB, "bytes", "Query or Scan call", False, _DDB_QUERY)
ON_DEMAND_WARM_WRITES = Limit(
    "new on-demand table, write throughput",
    "DynamoDB",
    4000,
    "units per second",
    "table",
    True,
    _DDB_ON_DEMAND,
    note="raised by pre-warming; the table then doubles its previous peak within 30 minutes",
)
ON_DEMAND_WARM_READS = Limit(
    "new on-demand table, read throughput",
    "DynamoDB",
    12_000,
    "units per second",
    "table",
    True,
    _DDB_ON_DEMAND,
    note=ON_DEMAND_WARM_WRITES.note,
)

# -- Lambda -------------------------------------------------------------------------------------------------
CONCURRENCY = Limit("concurrent executions", "Lambda", 1000, "executions", "account and Region", True, _LAMBDA_QUOTAS)
SCALING_RATE = Limit(
    "new execution environments (burst)",
    "Lambda",
    1000,
    "executions per 10 s",
    "function",
    False,
    _LAMBDA_SCALING,
    note="refilled continuously, up to the account's concurrency",
)
ASYNC_PAYLOAD = Limit(
    "asynchronous invocation payload", "Lambda", 256 * KB, "bytes", "invocation", False, _LAMBDA_QUOTAS
)

LIMITS: tuple[Limit, ...] = (
    NEW_CONNECTIONS_PER_SECOND,
    WEBSOCKET_FRAME,
    WEBSOCKET_MESSAGE,
    CONNECTION_DURATION,
    IDLE_TIMEOUT,
    INTEGRATION_TIMEOUT,
    ACCOUNT_REQUESTS_PER_SECOND,
    PARTITION_WRITE_UNITS,
    PARTITION_READ_UNITS,
    ITEM_WRITE_UNITS,
    ITEM_READ_UNITS,
    ITEM_SIZE,
    TRANSACTION_ACTIONS,
    TRANSACTION_SIZE,
    QUERY_PAGE,
    ON_DEMAND_WARM_WRITES,
    ON_DEMAND_WARM_READS,
    CONCURRENCY,
    SCALING_RATE,
    ASYNC_PAYLOAD,
)
