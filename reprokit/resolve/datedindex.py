"""A package index as it was on a date: a local PEP 503 page for each project, listing
only the files the upstream index had received by then.

pip has no ``--exclude-newer``; pointed at this index (on 127.0.0.1, for the length of a
``with`` block) it resolves a paper's requirements as of the paper's date. Files are
served from reprokit's verified cache (fetched on first use), so an old Python's pip
never needs a TLS stack newer than it has; pages keep each file's sha256,
``data-requires-python`` and yanked mark.
"""

from __future__ import annotations

import datetime as dt
import html
import http.server
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from packaging.utils import canonicalize_name

from reprokit.errors import PackageIndexError, ReprokitError
from reprokit.resolve import pypi
from reprokit.resolve.fetch import fetch
from reprokit.resolve.lockfile import Artifact


def _uploaded(f: pypi.File) -> dt.datetime | None:
    if not f.upload_time:
        return None
    try:
        return dt.datetime.fromisoformat(f.upload_time.replace("Z", "+00:00"))
    except ValueError:
        return None


def page(name: str, files: list[pypi.File], cutoff: dt.datetime) -> str:
    """The PEP 503 page of ``name`` with the files uploaded before ``cutoff``, linked to
    ``../../files/SHA256/FILENAME`` on this index."""
    links = []
    for f in files:
        when = _uploaded(f)
        if when is None or when >= cutoff:
            continue
        attrs = f'href="../../files/{f.sha256}/{html.escape(f.filename)}#sha256={f.sha256}"'
        if f.requires_python:
            attrs += f' data-requires-python="{html.escape(f.requires_python)}"'
        if f.yanked:
            attrs += ' data-yanked=""'
        links.append(f"<a {attrs}>{html.escape(f.filename)}</a><br/>")
    return f"<!DOCTYPE html>\n<html><head><title>Links for {html.escape(name)}</title></head><body>\n" + "\n".join(links) + "\n</body></html>\n"


@contextmanager
def serve(client: pypi.Client, cutoff: dt.datetime, cache: Path) -> Iterator[str]:
    """Serve the index as of ``cutoff`` (exclusive) on 127.0.0.1; yields its simple URL."""
    known: dict[str, pypi.File] = {}
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = [p for p in self.path.split("?")[0].split("/") if p]
            if len(parts) == 3 and parts[0] == "files":
                self._file(parts[1])
                return
            if len(parts) != 2 or parts[0] != "simple":
                self._reply(404, "not found")
                return
            name = str(canonicalize_name(parts[1]))
            try:
                files = client.files(name)
            except PackageIndexError:
                self._reply(404, f"{name}: not on the index")
                return
            with lock:
                known.update((f.sha256, f) for f in files)
            self._reply(200, page(name, files, cutoff))

        def _file(self, sha256: str) -> None:
            with lock:
                f = known.get(sha256)
            if f is None:
                self._reply(404, "not a file of a page this index served")
                return
            try:
                path, _ = fetch(client, Artifact.from_file(f), cache)
            except ReprokitError as exc:
                self._reply(502, str(exc))
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(path.stat().st_size))
            self.end_headers()
            with open(path, "rb") as fh:
                shutil.copyfileobj(fh, self.wfile)

        def _reply(self, status: int, text: str) -> None:
            body = text.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple/"
    finally:
        server.shutdown()
        server.server_close()
