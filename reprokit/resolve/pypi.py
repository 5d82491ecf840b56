"""A small client for PyPI-like indexes: the PEP 691 JSON simple API and file downloads.

One ``requests`` session, retries with backoff on timeouts, 429 and 5xx, and URLs
resolved against the response they came in (mirrors and some indexes answer with
relative ones).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import re
import struct
import tarfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from reprokit import http, lazy
from reprokit.errors import PackageIndexError, RetriesExhausted
from reprokit.http import redact

if TYPE_CHECKING:
    import requests
else:
    requests = lazy.module("requests")

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


def released(files: list[File]) -> dict[Version, dt.datetime]:
    """When each release of a project came out: the upload time of its first file (a
    release's files arrive over hours, and some projects add wheels years later). Files
    whose name or time cannot be read are left out."""
    first: dict[Version, dt.datetime] = {}
    for f in files:
        try:
            version = parse_wheel_filename(f.filename)[1] if f.kind == "wheel" else parse_sdist_filename(f.filename)[1]
            when = dt.datetime.fromisoformat((f.upload_time or "").replace("Z", "+00:00"))
        except (ValueError, InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        first[version] = min(when, first.get(version, when))
    return first


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
        self._pages: dict[str, tuple[File, ...]] = {}
        self._lock = threading.Lock()

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
        """Every file of a project, from the PEP 691 JSON simple page (asked once per
        client: a lock asks for numpy's page many times, and it is megabytes)."""
        key = str(canonicalize_name(project))
        with self._lock:
            cached = self._pages.get(key)
        if cached is not None:
            return list(cached)
        found = self._files(project)
        with self._lock:
            self._pages[key] = tuple(found)
        return found

    def _files(self, project: str) -> list[File]:
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

    def _range(self, url: str, start: int | None, length: int) -> tuple[bytes, int | None]:
        """``length`` bytes at ``start`` (None: the file's last ``length``), and the file's
        size when the server says it; the whole file when it ignores Range."""
        spec = f"bytes=-{length}" if start is None else f"bytes={start}-{start + length - 1}"
        r = self.request(url, headers={"Range": spec})
        with r:
            if r.status_code not in (200, 206):
                raise PackageIndexError(f"{redact(url)}: HTTP {r.status_code}")
            data = r.content
            total = None
            m = re.search(r"/(\d+)$", r.headers.get("Content-Range", ""))
            if m:
                total = int(m.group(1))
            if r.status_code == 200:
                return data if start is None else data[start:start + length], len(data)
        return data, total

    def archive_names(self, f: File) -> list[str]:
        """The member names of a wheel or sdist on the index. A wheel's come from its zip
        central directory, read with two Range requests (no download); an sdist is read
        whole (they are small), as pip would."""
        if f.filename.endswith((".whl", ".zip")):
            tail, total = self._range(f.url, None, 65536)
            end = tail.rfind(b"PK\x05\x06")
            if end < 0 or len(tail) - end < 22:
                raise PackageIndexError(f"{f.filename}: not a zip archive")
            cd_size, cd_offset = struct.unpack("<II", tail[end + 12:end + 20])
            total = total or f.size or len(tail)
            start_in_tail = cd_offset - (total - len(tail))
            if start_in_tail >= 0:
                directory = tail[start_in_tail:start_in_tail + cd_size]
            else:
                directory, _ = self._range(f.url, cd_offset, cd_size)
            return _zip_names(directory)
        buf = io.BytesIO()
        for _ in self.download(f.url, buf.write):
            pass
        buf.seek(0)
        try:
            with tarfile.open(fileobj=buf) as tf:
                return [m.name for m in tf.getmembers() if m.isfile()]
        except tarfile.TarError as exc:
            raise PackageIndexError(f"{f.filename}: not a readable sdist ({exc})") from None


def file_names(path: os.PathLike[str] | str, max_members: int = 50_000) -> list[str]:
    """The member names of a wheel or sdist on disk, as :meth:`Client.archive_names` gives
    them for one on the index. A bundle's file is hostile input: a zip's names come from its
    central directory alone, and a tar is read no further than ``max_members`` entries."""

    name = os.fspath(path)
    try:
        if name.endswith((".whl", ".zip")):
            with zipfile.ZipFile(name) as zf:
                return zf.namelist()[:max_members]
        names: list[str] = []
        with tarfile.open(name) as tf:
            for member in tf:
                if len(names) >= max_members:
                    break
                if member.isfile():
                    names.append(member.name)
        return names
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise PackageIndexError(f"{name}: not a readable distribution file ({exc})") from None


def _zip_names(directory: bytes) -> list[str]:
    names = []
    i = 0
    while i + 46 <= len(directory) and directory[i:i + 4] == b"PK\x01\x02":
        n, m, k = struct.unpack("<HHH", directory[i + 28:i + 34])
        names.append(directory[i + 46:i + 46 + n].decode("utf-8", "replace"))
        i += 46 + n + m + k
    return names


def top_level_modules(names: list[str]) -> set[str]:
    """The importable top-level names in an archive's member list: packages, modules and
    extension modules (an sdist's first folder and any src/ layout skipped)."""
    out = set()
    for name in names:
        parts = name.split("/")
        if not parts[-1]:
            continue
        if parts[0].endswith((".dist-info", ".data", ".egg-info")):
            continue
        if len(parts) > 1 and re.fullmatch(r"[\w.+-]+-\d[^/]*", parts[0]) and not name.endswith(".dist-info/RECORD"):
            parts = parts[1:]  # the sdist's own top folder
            if parts and parts[0] in ("src", "lib", "python") and len(parts) > 1:
                parts = parts[1:]
        if not parts or parts[0].endswith((".egg-info", ".dist-info")) or parts[0] in ("tests", "test", "docs", "doc", "examples", "benchmarks"):
            continue
        first = parts[0]
        if len(parts) == 1:
            if first.endswith(".py") and first not in ("setup.py", "conftest.py"):
                out.add(first[:-3])
            elif first.endswith((".so", ".pyd")):
                out.add(first.split(".")[0])
        elif parts[-1] == "__init__.py" or parts[-1].endswith((".py", ".so")):
            out.add(first)
    return {m for m in out if m.isidentifier()}
