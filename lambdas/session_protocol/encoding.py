"""How the protocol's JSON is written on the wire: one encoder for frames, events and a broadcast's `data`."""

from __future__ import annotations

import json


def encode_payload(payload: object) -> bytes:
    """Any JSON value (a frame's body, or a broadcast's `data` on its own), compact and UTF-8."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
