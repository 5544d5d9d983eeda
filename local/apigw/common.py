"""What the local HTTP and WebSocket APIs' events share: API Gateway's ID shape and request-time format."""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import time


def new_apigw_id() -> str:
    """An ID shaped like API Gateway's request and connection IDs (`JKJaXmPLvHcESHA=`, `L0SM9cOFvHcCIhw=`):
    11 random bytes in standard base64, 16 characters."""
    return base64.b64encode(secrets.token_bytes(11)).decode()


def request_time(epoch_seconds: float) -> str:
    """`requestContext.time` / `requestTime` as API Gateway writes them: `14/Nov/2023:22:13:20 +0000`."""
    return dt.datetime.fromtimestamp(epoch_seconds, dt.UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def epoch_ms() -> int:
    return int(time.time() * 1000)
