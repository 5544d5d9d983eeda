"""Protocol versions: a client declares the newest version it speaks on the connect URL (`&v=2`), the
connection record keeps it (`Connection.protocolVersion`), and the server sends a frame kind only to
connections whose version has it. `/asyncapi.json` says which version introduced each frame
(`x-protocol-version` on each message).

A client in the field that does not know a frame kind would take it for a gap (no `seq` it can use), recover,
receive the recovery in that frame again and loop: so a newer kind is never sent to an older client.

- 1: the frames of the first clients (a connect URL without `v`).
- 2: `batch` (several events in one frame) and `joined.missing` (seqs a recovery will never bring).
- 3: the pushed presence frames: `presenceChanged`, `reactions`, `kicked`.
"""

from __future__ import annotations

from session_schema.errors import ValidationFailed

FIRST = 1  # a connection that declared none
BATCH = 2  # `batch` frames
MISSING_SEQS = 2  # `joined.missing`
PRESENCE = 3  # pushed presence frames (`presenceChanged`, `reactions`, `kicked`)
CURRENT = 3  # the newest this server speaks: a client declaring a later one gets this one's frames
QUERY_PARAMETER = "v"
_DIGITS_MAX = 4


def declared(raw: object) -> int:
    """The version a connect URL's `v` declares: FIRST without one; a later one than CURRENT is served as
    CURRENT. Anything but a positive decimal integer is VALIDATION_ERROR naming `v`."""
    if raw is None:
        return FIRST
    if not isinstance(raw, str) or not raw.isascii() or not raw.isdigit() or len(raw) > _DIGITS_MAX:
        raise ValidationFailed(QUERY_PARAMETER, "is a protocol version: a positive integer such as 2")
    version = int(raw)
    if version < FIRST:
        raise ValidationFailed(QUERY_PARAMETER, f"is a protocol version: {FIRST} or later")
    return min(version, CURRENT)
