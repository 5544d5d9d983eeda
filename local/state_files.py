"""Files the local stack keeps in its state directory, created once and shared by every process reading it."""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_once(path: Path, content: bytes) -> bytes:
    """`path`'s content: `content`, written (0600) if the file does not exist yet, else what is there.

    Safe when two processes (`serve` and `token`) start at once: the file appears atomically (a hard link of a
    fully written temporary file) and whoever loses the race reads the winner's.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists():
        return path.read_bytes()
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_bytes()
    finally:
        tmp.unlink(missing_ok=True)
    return content
