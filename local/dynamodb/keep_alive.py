"""Keep-alive connections to the embedded moto server.

Werkzeug's development server, which moto serves with, answers every request with `Connection: close` and then
reads whatever else the client sent (it cannot tell where an unread request body ends). So every DynamoDB call of
every handler opened a new TCP connection (botocore's pool could keep none) and the server started a new thread
for it: a connect and a thread per call on a broadcast's path before its first post, and a share of each
execution environment's CPU spent in urllib3's connection setup.

Here a request whose length is known (Content-Length, what botocore sends) has its whole body read before the
application sees it, so the connection is at the next request's first byte when the answer is written: werkzeug's
read of what follows is given nothing, and the answer keeps the connection open (werkzeug's HTTP/1.1 answers
carry a Content-Length or are chunked). A request sent chunked, or whose client asked to close, closes as before.
What each answer says is unchanged; only the connection lives on. Each open connection holds a server thread
(werkzeug's are daemon threads: they end with the process).
"""

from __future__ import annotations

import io
from typing import Any

from moto.moto_server.werkzeug_app import MotoRequestHandler


class _NothingMore:
    """The request stream once its body was read: werkzeug's read of leftovers after the answer gets nothing (what
    it would take is the next request)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def read(self, size: int = -1) -> bytes:
        return b""

    def close(self) -> None:
        self.stream.close()


class KeepAliveRequestHandler(MotoRequestHandler):
    # An answer is written in two sends (head, then body): on a kept connection Nagle's algorithm would hold the
    # body until the client's delayed ACK of the head, tens of milliseconds later.
    disable_nagle_algorithm = True
    _body_read = False

    def handle_one_request(self) -> None:
        if isinstance(self.rfile, _NothingMore):
            self.rfile = self.rfile.stream
        super().handle_one_request()

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        length = environ.get("CONTENT_LENGTH") or "0"
        self._body_read = "wsgi.input_terminated" not in environ and length.isdigit()
        if self._body_read:
            environ["wsgi.input"] = io.BytesIO(self.rfile.read(int(length)))
            self.rfile = _NothingMore(self.rfile)  # type: ignore[assignment]
        return environ

    def send_header(self, keyword: str, value: str) -> None:
        if self._body_read and keyword.lower() == "connection" and value.lower() == "close":
            return  # left as the client asked (HTTP/1.1: open)
        super().send_header(keyword, value)
