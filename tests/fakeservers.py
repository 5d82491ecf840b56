"""Local HTTP servers on 127.0.0.1 that play remote services in tests."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@contextmanager
def serve(handle: Handler) -> Iterator[tuple[str, list[str]]]:
    """Serve ``handle`` for every method on a free port; yields (base URL, request log)."""
    requests_seen: list[str] = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests_seen.append(self.path)
            handle(self)

        do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests_seen
    finally:
        server.shutdown()
        server.server_close()


def reply(h: http.server.BaseHTTPRequestHandler, status: int, body: bytes, ctype: str = "application/json", headers: dict[str, str] | None = None) -> None:
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Content-Length", str(len(body)))
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.end_headers()
    if h.command != "HEAD":
        h.wfile.write(body)
