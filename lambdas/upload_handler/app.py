"""The upload function: the artifacts bucket's event notification (infra/uploads.py; locally local/s3 sends the
same records) invokes it for each stored object, and each record confirms its artifact's upload
(session_runtime/uploads.py).

A record whose confirmation fails raises after the others were tried, so Lambda retries the invocation (every
step is conditional: the records already confirmed change nothing the second time) and, past its retries,
keeps it in the dead-letter queue (its records can be sent to the function again once the cause is fixed).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from session_runtime.observability import logger, metrics
from session_runtime.runtime import get_runtime
from session_runtime.uploads import StoredObject, confirm_upload


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    runtime = get_runtime()
    outcomes: dict[str, int] = {}
    failed: list[str] = []
    for record in event.get("Records", []):
        stored = StoredObject.from_record(record, bucket=runtime.settings.artifacts_bucket)
        if stored is None:
            outcomes["ignored"] = outcomes.get("ignored", 0) + 1
            continue
        try:
            outcome = confirm_upload(runtime, stored)
        except Exception:
            logger.exception("could not confirm an upload; Lambda retries it", extra={"objectKey": stored.key})
            failed.append(stored.key)
            continue
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        metrics.add_metric(name="UploadConfirmed", unit=MetricUnit.Count, value=1)
    if failed:
        metrics.add_metric(name="UploadConfirmFailed", unit=MetricUnit.Count, value=len(failed))
        raise RuntimeError(f"{len(failed)} upload(s) not confirmed: {failed[:3]}")
    return outcomes
