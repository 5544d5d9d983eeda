"""Every AWS client's connect/read timeouts and retries, sized against API Gateway's integration timeout.

botocore's defaults (60 s connect, 60 s read, 3-10 attempts) let one hung call outlive API Gateway's 29 s
integration timeout, so the client got the gateway's own `{"message": ...}` body instead of ours. The budget:

- API Gateway waits 29 s for a function; both API functions time out at 25 s (infra/functions.py), so a
  function that runs out of time is still reported before the gateway gives up.
- One call, worst case (the service accepts the connection and never answers): ATTEMPTS x READ_TIMEOUT plus
  standard-mode backoff between them (at most 1 s after the first attempt) = 2 x 2 s + 1 s = 5 s; a service
  that cannot be reached at all: 2 x 1 s + 1 s = 3 s. Then the call raises, and the handler answers 503
  SERVICE_UNAVAILABLE (a throttle past the retry: 429 RATE_LIMITED) in the contract's shape: a hung
  DynamoDB is answered in about 5 s, well inside 25 s.
- A request makes its DynamoDB calls one after another; the first one that fails ends it. The longest
  sequential chains (an end: 2 GetItem + 1 UpdateItem + one Query per page of connections) stay inside 25 s
  even if each call needed its one retry (5 calls x 5 s). DynamoDB answers in milliseconds and a
  transaction well under a second, so 2 s of read timeout cuts off only a call that is not coming back.
- One retry, not botocore's 10 for DynamoDB: a throttle that survives it is answered 429 RATE_LIMITED
  quickly and the client retries (the contract's clients retry 429 and 5xx with backoff), which costs the
  stage less than a function that sleeps through backoffs while holding a connection. The exceptions are the
  calls whose caller cannot retry or must not see a throttle (a `$connect`, a `$disconnect`, a fan-out's reads):
  they back off in the function, until THROTTLE_RETRY_MARGIN_SECONDS before its timeout (`retrying_throttles`).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Final

from botocore.config import Config

from session_store import throttle_retry

CONNECT_TIMEOUT_SECONDS: Final = 1.0
READ_TIMEOUT_SECONDS: Final = 2.0
ATTEMPTS: Final = 2  # the first try and one retry (botocore's `total_max_attempts`)
FIRST_BACKOFF_MAX_SECONDS: Final = 1.0  # standard mode: random() * 2 ** 0 before the retry

# The worst a single call can take before it raises (the figure the docstring reasons with).
WORST_CALL_SECONDS: Final = ATTEMPTS * READ_TIMEOUT_SECONDS + FIRST_BACKOFF_MAX_SECONDS

AWS_CLIENT_CONFIG: Final = Config(
    connect_timeout=CONNECT_TIMEOUT_SECONDS,
    read_timeout=READ_TIMEOUT_SECONDS,
    retries={"total_max_attempts": ATTEMPTS, "mode": "standard"},
)

# What an invocation keeps back from its retries of throttles (session_store/throttle_retry.py): the last try, at
# worst one call's time, and the answer after it.
THROTTLE_RETRY_MARGIN_SECONDS: Final = WORST_CALL_SECONDS + 1.0


def retrying_throttles(context: Any) -> AbstractContextManager[None]:
    """Every handler's invocation: throttles retried until the margin before the function's timeout."""
    return throttle_retry.invocation(context, margin_seconds=THROTTLE_RETRY_MARGIN_SECONDS)
