"""What an uploaded object's first bytes say: whether they are the declared content type, and a still image's
width and height. Pure: the upload function reads at most HEADER_BYTES of the object (one ranged GET) and asks.

Only signatures are checked, not whole files: enough to refuse an HTML page (or a script, an archive...) sent
with an image's or an audio type, which the bucket would otherwise serve back under that type. A content type
this module has no signature for (a deployment's own kind) is accepted as it is.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

# A JPEG's frame header may follow a large EXIF segment; 64 KiB covers a camera's thumbnail-bearing EXIF.
HEADER_BYTES = 65536
_MARKUP_STARTS = (b"<!doctype", b"<html", b"<head", b"<body", b"<script", b"<svg", b"<?xml", b"<iframe")


@dataclass(frozen=True)
class HeaderVerdict:
    problem: str | None = None  # why the bytes are not the declared type (None: they are, or cannot be told)
    width: int | None = None
    height: int | None = None


def _png(head: bytes) -> tuple[int, int] | None:
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR" or len(head) < 24:
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def _gif(head: bytes) -> tuple[int, int] | None:
    if head[:6] not in (b"GIF87a", b"GIF89a") or len(head) < 10:
        return None
    width, height = struct.unpack("<HH", head[6:10])
    return width, height


def _webp(head: bytes) -> tuple[int, int] | None:
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP" or len(head) < 30:
        return None
    chunk = head[12:16]
    if chunk == b"VP8X":  # extended: the canvas size, 24-bit little-endian, minus one
        return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
    if chunk == b"VP8L" and head[20] == 0x2F:  # lossless: 14-bit sizes minus one, packed after the signature
        bits = int.from_bytes(head[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":  # lossy: the key frame's 14-bit sizes
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    return None


# JPEG start-of-frame markers (the frame header holds the size); C4, C8 and CC are other segments.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(head: bytes) -> tuple[int, int] | None:
    """A JPEG's size, or (0, 0) when it starts as one but its frame header lies past the bytes read."""
    if head[:3] != b"\xff\xd8\xff":
        return None
    at = 2
    while at + 9 <= len(head):
        if head[at] != 0xFF:
            return 0, 0  # not a segment boundary: a damaged file, whose size we do not guess
        marker = head[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _SOF_MARKERS:
            height, width = struct.unpack(">HH", head[at + 5 : at + 9])
            return width, height
        at += 2 + struct.unpack(">H", head[at + 2 : at + 4])[0]
    return 0, 0


_IMAGES: dict[str, tuple[str, Callable[[bytes], tuple[int, int] | None]]] = {
    "image/png": ("a PNG", _png),
    "image/gif": ("a GIF", _gif),
    "image/webp": ("a WebP image", _webp),
    "image/jpeg": ("a JPEG", _jpeg),
}


def _is_webm(head: bytes) -> bool:
    return head[:4] == b"\x1a\x45\xdf\xa3"


def _is_mp4(head: bytes) -> bool:
    return head[4:8] == b"ftyp"


def _is_mpeg_audio(head: bytes) -> bool:
    return head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:  # a character cut at the end of the bytes read is still text
            return False
    return b"\x00" not in head


def _is_vtt(head: bytes) -> bool:
    return head.removeprefix(b"\xef\xbb\xbf").startswith(b"WEBVTT") and _is_text(head)


def _is_json(head: bytes) -> bool:
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return _is_text(head) and start[:1] in (b"{", b"[", b'"', b"-", b"t", b"f", b"n", *(b"%d" % d for d in range(10)))


_SIGNATURES: dict[str, tuple[str, Callable[[bytes], bool]]] = {
    "audio/webm": ("a WebM file", _is_webm),
    "video/webm": ("a WebM file", _is_webm),
    "audio/ogg": ("an Ogg file", lambda head: head[:4] == b"OggS"),
    "audio/mpeg": ("an MPEG audio file", _is_mpeg_audio),
    "audio/mp4": ("an MP4 file", _is_mp4),
    "video/mp4": ("an MP4 file", _is_mp4),
    "audio/wav": ("a WAVE file", lambda head: head[:4] == b"RIFF" and head[8:12] == b"WAVE"),
    "text/plain": ("text", _is_text),
    "text/vtt": ("a WebVTT file", _is_vtt),
    "application/json": ("JSON", _is_json),
}


def _not(name: str, content_type: str, head: bytes) -> HeaderVerdict:
    return HeaderVerdict(problem=f"the content is not {name} ({content_type}): it starts as {_looks_like(head)}")


def _looks_like(head: bytes) -> str:
    """A short description of what `head` rather is, for the reason given to the owner."""
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:16].lower()
    if start.startswith(_MARKUP_STARTS):
        return "an HTML or XML document"
    for content_type, (name, size_of) in _IMAGES.items():
        if size_of(head) is not None:
            return f"{name} ({content_type})"
    return "text" if _is_text(head) else "other binary data"


def judge(content_type: str, head: bytes) -> HeaderVerdict:
    """Whether the object's first bytes `head` are `content_type`, with a still image's size when known."""
    if not head:
        return HeaderVerdict(problem=f"the upload is empty, not {content_type}")
    image = _IMAGES.get(content_type)
    if image is not None:
        name, size_of = image
        size = size_of(head)
        if size is None:
            return _not(name, content_type, head)
        width, height = size
        return HeaderVerdict(width=width or None, height=height or None)
    signature = _SIGNATURES.get(content_type)
    if signature is None:
        return HeaderVerdict()
    name, matches = signature
    # Markup is refused under any declared type (text/plain included): served back, it is a page in our origin.
    markup = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:16].lower().startswith(_MARKUP_STARTS)
    if markup or not matches(head):
        return _not(name, content_type, head)
    return HeaderVerdict()
