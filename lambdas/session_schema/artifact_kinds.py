"""Which artifact kinds exist and which content types each may be uploaded as: the one declared table.

The presigned upload pins the declared `contentType` (infra and local S3 serve the object back with it), so
this table is what keeps an `image` from being an HTML page or an SVG with script in it, served from our
bucket. A kind not listed here is refused; widening what is accepted is one edit to this table.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

_STILL_IMAGES = ("image/png", "image/jpeg", "image/webp", "image/gif")  # no image/svg+xml: it can carry script

ARTIFACT_CONTENT_TYPES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "image": _STILL_IMAGES,  # a slide, a photo
        "frames": _STILL_IMAGES,  # captured frames of a video source
        "recording": ("audio/webm", "audio/ogg", "audio/mpeg", "audio/mp4", "audio/wav", "video/webm", "video/mp4"),
        "transcript": ("text/plain", "text/vtt", "application/json"),
    }
)


def content_type_problem(kind: str, content_type: str) -> str | None:
    """Why `content_type` may not be uploaded as `kind` (a message naming what is allowed), or None."""
    allowed = ARTIFACT_CONTENT_TYPES.get(kind)
    if allowed is None or content_type in allowed:
        return None
    return f"{content_type!r} is not an allowed content type for kind {kind!r}; allowed: {', '.join(allowed)}"


def kind_problem(kind: str) -> str | None:
    if kind in ARTIFACT_CONTENT_TYPES:
        return None
    return f"{kind!r} is not an artifact kind; kinds: {', '.join(ARTIFACT_CONTENT_TYPES)}"
