"""What the benchmarks share: the import path, quiet logging, a table printer, percentiles."""

from __future__ import annotations

import logging
import math
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = REPO_ROOT / "lambdas"


def prepare(code_path: bool = True) -> None:
    """Put `lambdas/` (unless `code_path` is false) and the repository on sys.path, fake AWS credentials, and
    quiet every logger."""
    for path in (str(LAMBDAS_DIR), str(REPO_ROOT)) if code_path else (str(REPO_ROOT),):
        if path not in sys.path:
            sys.path.insert(0, path)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("AWS_REGION", "us-east-1")
    # The handlers log one JSON line per request at INFO: thousands of lines would time the terminal.
    os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")  # a child may measure tracing on
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "LiveSessionsBench")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "websockets", "local", "aws_lambda_powertools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The per-delivery CPU comparison drives one boto3 client from 16 threads (the fan-out as it was before
    # the lean post path): urllib3 then warns that it discards surplus pooled connections. Harmless here.
    # (The local stack's handlers no longer share clients: each runs in its own worker process.)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    import warnings

    warnings.filterwarnings("ignore", message="No application metrics to publish")


def machine() -> str:
    return f"{os.cpu_count()} CPU cores, {platform.machine()}, Python {platform.python_version()}, {platform.system()}"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


# Every table rendered in this process, in order: `python -m bench --write-docs` copies them into docs/figures.md.
RENDERED: list[str] = []


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]], notes: Sequence[str] = ()) -> str:
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(value.ljust(widths[i]) for i, value in enumerate(row)) + " |"

    out = [f"## {title}", "", line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(row) for row in cells[1:]]
    if notes:
        out.append("")
        out += [f"- {note}" for note in notes]
    rendered = "\n".join(out) + "\n"
    RENDERED.append(rendered)
    return rendered


def _cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)
