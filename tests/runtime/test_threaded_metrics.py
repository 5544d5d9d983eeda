"""Many invocations flushing Powertools metrics at once in one process (the race tests' threads):
none of them fails, and no metric value is lost or printed twice (tests/support/threaded_metrics.py)."""

from __future__ import annotations

import json
import threading
from contextlib import redirect_stdout
from io import StringIO

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit


def test_concurrent_invocations_flush_every_metric_once(monkeypatch) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    metrics = Metrics(namespace="ThreadedMetricsTest", service="probe")
    threads, invocations, errors = 8, 200, []
    out = StringIO()

    @metrics.log_metrics
    def invocation(event, context):
        metrics.add_metric(name="Calls", unit=MetricUnit.Count, value=1)

    def worker() -> None:
        try:
            for _ in range(invocations):
                invocation({}, None)
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    with redirect_stdout(out):
        started = [threading.Thread(target=worker) for _ in range(threads)]
        for thread in started:
            thread.start()
        for thread in started:
            thread.join()
    assert errors == []
    blobs = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    assert sum(len(blob["Calls"]) if isinstance(blob["Calls"], list) else 1 for blob in blobs) == threads * invocations
