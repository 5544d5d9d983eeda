"""DynamoDB Streams to Lambda for the local stack: the event source mapping's stand-in, which polls the table's
stream and invokes the function the stream feeds (session_schema.functions: `stream_source`) in its own
execution environments, with the mapping's filters, batches, retries and bisect.

Entry points for the rest of `local/` are `__all__`; the modules are this service's internals: `poller`
(the mapping's semantics), `filters` (Lambda's event filtering).
"""

from __future__ import annotations

from .filters import matches_any
from .poller import BatchDelivery, StreamPoller, stream_arn_of

__all__ = ["BatchDelivery", "StreamPoller", "matches_any", "stream_arn_of"]
