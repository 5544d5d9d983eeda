"""The console page, served by the local HTTP gateway at `/console/` (a local convenience: the deployed API
has no such route, and it is outside the API's route table).

Its files are built from clients/js (`npm run build`, which `make dev` runs) into clients/js/dist/console;
`/console/config.json` tells the page where the WebSocket API is (the HTTP API is the page's own origin).
Only the built files' names are served: no path from the request reaches the file system.
"""

from __future__ import annotations

import json
from pathlib import Path

CONSOLE_PREFIX = "/console"
CONSOLE_DIR = Path(__file__).resolve().parents[1] / "clients" / "js" / "dist" / "console"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
}
NOT_BUILT = b"The console is not built: run `make dev`, or `npm ci && npm run build` in clients/js.\n"

Static = tuple[int, list[tuple[str, str]], bytes]


def is_built(directory: Path = CONSOLE_DIR) -> bool:
    return (directory / "index.html").is_file()


def is_console_path(raw_path: str) -> bool:
    return raw_path == CONSOLE_PREFIX or raw_path.startswith(CONSOLE_PREFIX + "/")


def console_response(raw_path: str, ws_url: str | None, directory: Path = CONSOLE_DIR) -> Static:
    """The answer to a GET under /console: a built file, the page's config, a redirect, or a 404."""
    if raw_path == CONSOLE_PREFIX:  # relative URLs in the page resolve against /console/
        return 308, [("location", CONSOLE_PREFIX + "/")], b""
    name = raw_path[len(CONSOLE_PREFIX) + 1 :] or "index.html"
    if name == "config.json":
        body = json.dumps({"wsUrl": ws_url} if ws_url else {}).encode()
        return 200, [("content-type", "application/json"), ("cache-control", "no-store")], body
    files = {path.name: path for path in directory.glob("*") if path.suffix in _TYPES} if directory.is_dir() else {}
    if not files:
        return 404, [("content-type", "text/plain; charset=utf-8")], NOT_BUILT
    found = files.get(name)
    if found is None:
        return 404, [("content-type", "text/plain; charset=utf-8")], b"Not Found\n"
    return 200, [("content-type", _TYPES[found.suffix]), ("cache-control", "no-cache")], found.read_bytes()
