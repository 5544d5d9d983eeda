"""DynamoDB's answers to a throttled request, as botocore raises them past its retries: a throttled call, and a
transaction cancelled with its reasons (the store tests and the handler tests inject them)."""

from __future__ import annotations

from botocore.exceptions import ClientError


def throttled(operation: str = "Query", code: str = "ThrottlingException") -> ClientError:
    error = {"Code": code, "Message": "Throughput exceeds the current capacity of your table or index."}
    return ClientError({"Error": error}, operation)


def cancelled(*codes: str) -> ClientError:
    """TransactWriteItems cancelled, one reason per action (`None`: that action was fine)."""
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": [{"Code": code} for code in codes],
        },
        "TransactWriteItems",
    )
