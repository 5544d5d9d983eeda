"""What a failed AWS call means to the contract: botocore's errors classified (a refused condition, a throttle,
a call that got no answer). Kept here, with the DynamoDB plumbing, so session_schema.errors stays a leaf."""

from __future__ import annotations

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from session_schema.errors import DomainError, RateLimited, ServiceUnavailable

# AWS error codes of a request the service throttled (past botocore's own retries): RATE_LIMITED to callers.
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded", "Throttling"}
)

# A transaction's cancellation reasons that mean a throttled part (TransactionCanceledException: botocore does not
# retry it).
THROTTLE_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})

# botocore's failures of a call that got no answer: a read or connect timeout, a refused or dropped connection.
UNANSWERED_CALL_ERRORS: tuple[type[Exception], ...] = (BotocoreConnectionError, HTTPClientError)


def is_condition_failure(error: ClientError) -> bool:
    """A conditional write refused (not a transaction: see dynamo.cancellation_reasons)."""
    failed: bool = error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"  # untyped error
    return failed


def is_throttle(error: BaseException) -> bool:
    """A call DynamoDB (or another AWS service) throttled: a throttling error code, a transaction cancelled for a
    throttled part, or the store's RATE_LIMITED for one (dynamo.Table._transact). Worth trying again later."""
    if isinstance(error, RateLimited):
        return True
    if not isinstance(error, ClientError):
        return False
    if error.response.get("Error", {}).get("Code") in THROTTLING_CODES:
        return True
    reasons = error.response.get("CancellationReasons") or []
    return any(reason.get("Code") in THROTTLE_REASONS for reason in reasons)


def aws_refusal(error: Exception) -> DomainError | None:
    """The contract's answer to a failed AWS call that is not our bug: a throttle past the client's retry is
    RATE_LIMITED, a call that got no answer in time SERVICE_UNAVAILABLE. None for anything else."""
    if isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in THROTTLING_CODES:
        return RateLimited()
    if isinstance(error, UNANSWERED_CALL_ERRORS):
        return ServiceUnavailable()
    return None
