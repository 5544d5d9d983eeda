"""An upload's first bytes against its declared content type (session_schema/file_header.py)."""

from __future__ import annotations

import pytest

from session_schema.file_header import HEADER_BYTES, judge

from tests.support.images import gif, jpeg, png, webp

HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


@pytest.mark.parametrize(
    ("content_type", "make"), [("image/png", png), ("image/gif", gif), ("image/jpeg", jpeg), ("image/webp", webp)]
)
def test_a_still_image_is_accepted_with_its_width_and_height(content_type, make):
    verdict = judge(content_type, make(640, 480))
    assert (verdict.problem, verdict.width, verdict.height) == (None, 640, 480)


def test_a_jpeg_frame_header_after_a_large_exif_segment_is_found_within_the_bytes_read():
    verdict = judge("image/jpeg", jpeg(1920, 1080, exif_bytes=60_000)[:HEADER_BYTES])
    assert (verdict.width, verdict.height) == (1920, 1080)
    beyond = judge("image/jpeg", jpeg(1920, 1080, exif_bytes=HEADER_BYTES - 8)[:HEADER_BYTES])
    assert (beyond.problem, beyond.width, beyond.height) == (None, None, None)  # a JPEG, size not guessed


@pytest.mark.parametrize("content_type", ["image/png", "image/jpeg", "image/gif", "image/webp", "audio/webm"])
def test_html_sent_as_a_declared_binary_type_is_refused_saying_what_it_is(content_type):
    verdict = judge(content_type, HTML)
    assert verdict.problem is not None and content_type in verdict.problem
    assert "HTML" in verdict.problem and verdict.width is None


def test_an_image_of_another_format_is_named_in_the_reason():
    problem = judge("image/png", gif(2, 2)).problem
    assert problem is not None and "a GIF (image/gif)" in problem


@pytest.mark.parametrize(
    ("content_type", "good", "bad"),
    [
        ("audio/webm", b"\x1a\x45\xdf\xa3" + b"\x00" * 20, b"OggS" + b"\x00" * 20),
        ("audio/ogg", b"OggS\x00\x02", b"ID3\x04"),
        ("audio/mpeg", b"ID3\x04\x00", b"\x1a\x45\xdf\xa3"),
        ("video/mp4", b"\x00\x00\x00\x20ftypisom", b"RIFF\x00\x00\x00\x00WAVE"),
        ("audio/wav", b"RIFF\x24\x00\x00\x00WAVEfmt ", b"\x00\x00\x00\x20ftypisom"),
        ("text/vtt", b"WEBVTT\n\n00:00.000 --> 00:01.000\nhello", b"hello"),
        ("application/json", b' {"lines": []}', b"\x00\x01binary"),
        ("text/plain", "caf\u00e9 \u2014 notes".encode(), HTML),
    ],
)
def test_each_declared_type_with_a_signature_is_checked(content_type, good, bad):
    assert judge(content_type, good).problem is None
    assert judge(content_type, bad).problem is not None


def test_text_cut_inside_a_character_at_the_end_of_the_bytes_read_is_still_text():
    assert judge("text/plain", "\u00e9t\u00e9".encode()[:-1]).problem is None


def test_a_type_without_a_known_signature_is_accepted_and_an_empty_upload_is_not():
    assert judge("model/gltf-binary", b"glTF\x02").problem is None
    assert judge("image/png", b"").problem is not None
