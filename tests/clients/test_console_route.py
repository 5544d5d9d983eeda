"""The local gateway's /console route (local/console.py): built files by name only, the page's config."""

from __future__ import annotations

import json
from pathlib import Path

from local.console import NOT_BUILT, console_response, is_console_path


def test_console_paths_are_outside_the_api() -> None:
    assert is_console_path("/console") and is_console_path("/console/console.js")
    assert not is_console_path("/consoles") and not is_console_path("/sessions")


def test_serves_built_files_by_name_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html>")
    (tmp_path / "console.js").write_text("export {}")
    (tmp_path.parent / "secret.html").write_text("not for you")
    assert console_response("/console", None, tmp_path)[:2] == (308, [("location", "/console/")])
    status, headers, body = console_response("/console/", None, tmp_path)
    assert (status, body) == (200, b"<!doctype html>") and ("content-type", "text/html; charset=utf-8") in headers
    assert console_response("/console/console.js", None, tmp_path)[0] == 200
    for probe in ("/console/../secret.html", "/console/%2e%2e/secret.html", "/console/nope.js"):
        assert console_response(probe, None, tmp_path)[0] == 404, probe


def test_says_how_to_build_it_when_not_built(tmp_path: Path) -> None:
    assert console_response("/console/", None, tmp_path / "missing") == (
        404,
        [("content-type", "text/plain; charset=utf-8")],
        NOT_BUILT,
    )


def test_config_names_the_websocket_api(tmp_path: Path) -> None:
    status, _, body = console_response("/console/config.json", "ws://127.0.0.1:3001", tmp_path)
    assert status == 200 and json.loads(body) == {"wsUrl": "ws://127.0.0.1:3001"}
