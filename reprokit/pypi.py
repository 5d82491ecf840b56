"""A small client for PyPI-like indexes: the PEP 691 JSON simple API and file downloads.

One ``requests`` session, retries with backoff on timeouts, 429 and 5xx, and URLs
resolved against the response they came in (mirrors and some indexes answer with
relative ones).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from packaging.utils import canonicalize_name

from reprokit import http
from reprokit.errors import PackageIndexError, RetriesExhausted
from reprokit.http import redact

log = logging.getLogger(__name__)

DEFAULT_INDEX = "https://pypi.org/simple/"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"


def index_url(explicit: str | None = None) -> str:
    url = explicit or os.environ.get("PIP_INDEX_URL") or DEFAULT_INDEX
    return url if url.endswith("/") else url + "/"


@dataclass(frozen=True, kw_only=True, slots=True)
class File:
    """One file of a project on the index."""

    filename: str
    url: str  # absolute
    sha256: str
    size: int | None
    upload_time: str | None
    yanked: bool
    requires_python: str | None

    @property
    def kind(self) -> str:
        return "wheel" if self.filename.endswith(".whl") else "sdist"


class Client:
    def __init__(self, index: str | None = None, *, retries: int = 4, backoff: float = 0.5, timeout: float = 30.0) -> None:
        self.index = index_url(index)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "reprokit"
        adapter = requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.requests_made = 0

    def _auth_for(self, url: str) -> tuple[str, str] | None:
        """The index URL's credentials, for a file on the index's own host only (recorded
        URLs carry none)."""
        own = urlsplit(self.index)
        there = urlsplit(url)
        if (there.scheme, there.hostname, there.port) == (own.scheme, own.hostname, own.port):
            return http.credentials(self.index)
        return None

    def request(self, url: str, *, headers: dict[str, str] | None = None, stream: bool = False,
                auth: tuple[str, str] | None = None) -> requests.Response:
        """GET with retries on connection errors, timeouts, 429 and 5xx."""

        def count() -> None:
            self.requests_made += 1

        try:
            r = http.send(self.session, "GET", url, retries=self.retries, backoff=self.backoff, on_try=count,
                          headers=headers, stream=stream, timeout=self.timeout, auth=auth)
        except RetriesExhausted as exc:
            raise PackageIndexError(f"{redact(url)}: no answer after {self.retries + 1} tries ({exc.reason})") from None
        if r.status_code in http.RETRY_STATUS:
            r.close()
            raise PackageIndexError(f"{redact(url)}: no answer after {self.retries + 1} tries (HTTP {r.status_code})")
        return r

    def files(self, project: str) -> list[File]:
        """Every file of a project, from the PEP 691 JSON simple page."""
        url = urljoin(self.index, canonicalize_name(project) + "/")
        r = self.request(url, headers={"Accept": f"{SIMPLE_JSON}, application/json;q=0.5"})
        if r.status_code == 404:
            raise PackageIndexError(f"{project}: not on the index {redact(self.index)}")
        if r.status_code != 200:
            raise PackageIndexError(f"{redact(url)}: HTTP {r.status_code}")
        ctype = r.headers.get("Content-Type", "")
        if "json" not in ctype:
            raise PackageIndexError(f"{redact(url)}: the index does not speak PEP 691 JSON (Content-Type {ctype or 'missing'})")
        try:
            data = r.json()
        except ValueError as exc:
            raise PackageIndexError(f"{redact(url)}: the index sent invalid JSON") from exc
        base = r.url
        out = []
        for f in data.get("files", []):
            sha = (f.get("hashes") or {}).get("sha256")
            if not sha:
                continue
            yanked = f.get("yanked", False)
            out.append(File(
                filename=f["filename"], url=http.scrub_url(urljoin(base, f["url"])), sha256=sha, size=f.get("size"),
                upload_time=f.get("upload-time"), yanked=bool(yanked), requires_python=f.get("requires-python"),
            ))
        return out

    def download(self, url: str, write: Callable[[bytes], object], *, offset: int = 0) -> Iterator[int]:
        """Stream ``url`` to ``write``, yielding byte counts; resumes at ``offset`` when the
        server honours Range requests (otherwise starts over and yields -1 first)."""
        headers = {"Range": f"bytes={offset}-"} if offset else None
        r = self.request(url, headers=headers, stream=True, auth=self._auth_for(url))
        with r:
            if r.status_code == 416 and offset:
                return
            if r.status_code not in (200, 206):
                raise PackageIndexError(f"{redact(url)}: HTTP {r.status_code}")
            if offset and r.status_code == 200:
                yield -1  # server ignored the range: caller truncates
            for chunk in r.iter_content(1 << 16):
                write(chunk)
                yield len(chunk)
