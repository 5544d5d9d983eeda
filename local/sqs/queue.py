"""A minimal SQS for the local stack: `SendMessage` (SQS's JSON protocol, which boto3 speaks) on its own port, each
message held for its whole-second `DelaySeconds`, then handed to the queue's function as Lambda's SQS event source
mapping would (`{"Records": [{"eventSource": "aws:sqs", "body", ...}]}`, one record a batch: the batch size and
window are not modelled), in that function's own execution environments (the local Lambda pools), at most
`max_concurrency` batches at once (the mapping's MaximumConcurrency). A throttled invocation (the function's
concurrency held by its other invocations) is retried shortly by the mapping, not counted as a receive: Lambda's
poller retries a throttled batch within the visibility timeout. A failed invocation, or a record the function
reports failed (`batchItemFailures`), is delivered again after the visibility timeout, at most `max_receives` times
(then kept in `failures`, the dead-letter queue's stand-in).

Only what the handlers and the local gateway call: no ReceiveMessage (the event source mapping is this module), no
FIFO, no attributes.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local import SHUTDOWN_POLL_SECONDS
from local.lambda_service import Throttled

logger = logging.getLogger("local.sqs")

Invoke = Callable[[Mapping[str, Any]], Any]
MAX_DELAY_SECONDS = 900  # SQS's own bound
THROTTLE_RETRY_SECONDS = 0.2  # a throttled batch is tried again after this, jittered up to twice as long


class DelayQueue:
    """Messages waiting out their delay, then delivered to `invoke` on their own thread each."""

    def __init__(
        self,
        arn: str,
        invoke: Invoke,
        *,
        visibility_timeout_seconds: float = 2.0,
        max_receives: int = 3,
        max_concurrency: int | None = None,
    ) -> None:
        self.arn = arn
        self.invoke = invoke
        self.visibility_timeout_seconds = visibility_timeout_seconds
        self.max_receives = max_receives
        self.failures: list[dict[str, Any]] = []
        self.delivered = 0
        self.throttled = 0  # invocations the function refused (retried by the mapping)
        self._in_flight = threading.BoundedSemaphore(max_concurrency) if max_concurrency else None
        self._pending = 0  # messages sent and not yet delivered or given up on
        self._heap: list[tuple[float, int, dict[str, Any], int]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="local-sqs", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        self._thread.join(timeout=5)

    def drain(self, timeout: float) -> bool:
        """Wait until every message sent so far is delivered or given up on; False if some still wait after
        `timeout` seconds (the stack drains the disconnect queue before it stops the functions)."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while self._pending and not self._stopped:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(left)
            return not self._pending

    def send(self, body: str, delay_seconds: int) -> str:
        if not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
            raise ValueError(f"DelaySeconds is 0 to {MAX_DELAY_SECONDS}")
        message_id = str(uuid.uuid4())
        record = {
            "messageId": message_id,
            "receiptHandle": message_id,
            "body": body,
            "attributes": {"SentTimestamp": str(int(time.time() * 1000))},
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324 - SQS's own checksum, not security
            "eventSource": "aws:sqs",
            "eventSourceARN": self.arn,
            "awsRegion": self.arn.split(":")[3],
        }
        with self._wake:
            self._pending += 1
        self._push(time.monotonic() + delay_seconds, record, 0)
        return message_id

    def _push(self, at: float, record: dict[str, Any], receives: int) -> None:
        with self._wake:
            heapq.heappush(self._heap, (at, next(self._order), record, receives))
            self._wake.notify_all()

    def _done(self) -> None:
        with self._wake:
            self._pending -= 1
            self._wake.notify_all()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._wake.wait(timeout)
                if self._stopped:
                    return
                _, _, record, receives = heapq.heappop(self._heap)
            threading.Thread(target=self._deliver, args=(record, receives), daemon=True).start()

    def _deliver(self, record: dict[str, Any], received: int) -> None:
        """One batch of one record, received for the `received + 1`th time unless the function throttles it."""
        if self._in_flight is not None:
            self._in_flight.acquire()
        try:
            receives = received + 1
            attributes = {**record["attributes"], "ApproximateReceiveCount": str(receives)}
            answer = self.invoke({"Records": [{**record, "attributes": attributes}]})
        except Throttled:
            # Lambda's poller retries a throttled batch itself, within the visibility timeout: not a receive.
            self.throttled += 1
            logger.debug("%s: a delivery was throttled; retried", self.arn)
            self._push(time.monotonic() + THROTTLE_RETRY_SECONDS * (1 + random.random()), record, received)  # noqa: S311
            return
        except Exception as error:  # noqa: BLE001 - the function failed: SQS delivers it again, then gives up
            self._failed(record, receives, repr(error))
            return
        finally:
            if self._in_flight is not None:
                self._in_flight.release()
        if _reported_failed(answer, record["messageId"]):
            self._failed(record, receives, "reported in batchItemFailures")
            return
        self.delivered += 1
        self._done()

    def _failed(self, record: dict[str, Any], receives: int, why: str) -> None:
        if receives >= self.max_receives:
            logger.warning("%s: a message failed %d times; kept in failures (%s)", self.arn, receives, why)
            self.failures.append(record)
            self._done()
            return
        self._push(time.monotonic() + self.visibility_timeout_seconds, record, receives)


def _reported_failed(answer: Any, message_id: str) -> bool:
    """Whether a function's answer (ReportBatchItemFailures) names the message as failed."""
    failures = answer.get("batchItemFailures") if isinstance(answer, Mapping) else None
    return any(isinstance(item, Mapping) and item.get("itemIdentifier") == message_id for item in failures or ())


class SqsEndpoint:
    """SendMessage over HTTP (SQS's JSON 1.0 protocol) into named delay queues."""

    def __init__(self, host: str, queues: Mapping[str, DelayQueue]) -> None:
        self.queues = dict(queues)  # by queue name (the last part of its URL)
        self._server = ThreadingHTTPServer((host, 0), self._handler_class())
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS},
            name="local-sqs-http",
            daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        for queue in self.queues.values():
            queue.start()
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        for queue in self.queues.values():
            queue.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's signature
                logger.debug(format, *args)

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                target = self.headers.get("X-Amz-Target", "")
                status, answer = endpoint.answer(target, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def answer(self, target: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        if target != "AmazonSQS.SendMessage":
            return 400, {"__type": "com.amazonaws.sqs#UnsupportedOperation", "message": f"{target} is not served here"}
        queue = self.queues.get(str(body.get("QueueUrl", "")).rstrip("/").rsplit("/", 1)[-1])
        if queue is None:
            return 400, {"__type": "com.amazonaws.sqs#QueueDoesNotExist", "message": "no such queue"}
        text = str(body.get("MessageBody", ""))
        try:
            message_id = queue.send(text, int(body.get("DelaySeconds", 0)))
        except ValueError as error:
            return 400, {"__type": "com.amazonaws.sqs#InvalidParameterValue", "message": str(error)}
        md5 = hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - botocore checks SQS's MD5 of the body
        return 200, {"MessageId": message_id, "MD5OfMessageBody": md5}
