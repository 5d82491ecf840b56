"""Bundles on Zenodo, read back: a record's files (by DOI ``10.5281/zenodo.N`` or record
URL), or every record of a community, through the public records API (no token). Each
bundle tarball is downloaded once into the cache, checked against the checksum Zenodo
lists for it, and kept only when it matches.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from reprokit import __version__, http, lazy
from reprokit.errors import HashMismatch, RetriesExhausted, UsageError, ZenodoError
from reprokit.publish import instance_base, origin

if TYPE_CHECKING:
    import requests
else:
    requests = lazy.module("requests")

log = logging.getLogger(__name__)

DEFAULT_URL = "https://zenodo.org"
TARBALLS = (".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar")
PAGE = 100
MAX_RECORDS = 10_000  # of one community
CHUNK = 1 << 20


@dataclass(frozen=True, kw_only=True, slots=True)
class RemoteFile:
    record_id: str
    key: str  # its name in the record
    size: int | None
    checksum: str  # "md5:…" as Zenodo lists it; "" when it lists none
    url: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Record:
    id: str
    doi: str | None
    url: str  # where a person reads it
    files: tuple[RemoteFile, ...]

    @property
    def bundles(self) -> tuple[RemoteFile, ...]:
        """Its tarballs: what ``reprokit publish`` uploads a bundle as."""
        return tuple(f for f in self.files if f.key.lower().endswith(TARBALLS))


_DOI = re.compile(r"^(?:doi:|https?://(?:dx\.)?doi\.org/)?(10\.\d{4,9}/zenodo\.(\d+))/?$", re.IGNORECASE)
_RECORD_URL = re.compile(r"^(https?://[^/?#]+(?:/[^?#]*?)?)/(?:api/)?(?:records?|deposit)/(\d+)(?:[/?#].*)?$", re.IGNORECASE)


def reference(text: str, zenodo_url: str = DEFAULT_URL) -> tuple[str, str] | None:
    """``(instance base URL, record id)`` for a Zenodo DOI or record URL, else None. A DOI
    names a record of ``zenodo_url``."""
    m = _DOI.match(text.strip())
    if m:
        return instance_base(zenodo_url), m.group(2)
    m = _RECORD_URL.match(text.strip())
    if m:
        return instance_base(m.group(1)), m.group(2)
    return None


def check_url(url: str, allow_http: bool = False) -> None:
    """https, or plain http to this machine (a mirror or a test server) or with --allow-http."""
    scheme, host, _ = origin(url)
    if scheme == "https" or (scheme == "http" and (allow_http or host in ("localhost", "127.0.0.1", "::1"))):
        return
    raise UsageError(f"{http.scrub_url(url)}: use https:// (plain http only to this machine, or with --allow-http)")


def _content_url(entry: dict[str, Any]) -> str:
    links = entry.get("links") or {}
    return str(links.get("content") or links.get("self") or links.get("download") or "")


class Records:
    """The records API of one Zenodo instance."""

    def __init__(self, base: str, *, timeout: float = 60.0, retries: int = 4, backoff: float = 1.0, allow_http: bool = False) -> None:
        check_url(base, allow_http)
        self.base = instance_base(base)
        self.session = requests.Session()
        self.session.headers.update({"User-Agent": f"reprokit/{__version__}", "Accept": "application/json"})
        self.timeout, self.retries, self.backoff = timeout, retries, backoff

    def _get(self, url: str, **kw: Any) -> requests.Response:
        if origin(url) != origin(self.base):
            raise ZenodoError(f"Zenodo's answer points at {http.scrub_url(url)}, not at {self.base}; not followed")
        try:
            r = http.send(self.session, "GET", url, retries=self.retries, backoff=self.backoff, timeout=self.timeout, **kw)
        except RetriesExhausted as exc:
            raise ZenodoError(f"GET {http.redact(url)}: Zenodo did not answer after {self.retries + 1} tries ({exc.reason})") from None
        except requests.RequestException as exc:
            raise ZenodoError(f"GET {http.redact(url)}: {exc.__class__.__name__}") from None
        if r.status_code == 404:
            raise ZenodoError(f"{http.redact(url)}: no such record (404)")
        if r.status_code == 410:
            raise ZenodoError(f"{http.redact(url)}: the record was removed (410)")
        if r.status_code >= 400:
            raise ZenodoError(f"GET {http.redact(url)}: Zenodo answered {r.status_code}")
        return r

    def _json(self, url: str, **kw: Any) -> dict[str, Any]:
        try:
            body = self._get(url, **kw).json()
        except ValueError:
            raise ZenodoError(f"GET {http.redact(url)}: the answer is not JSON") from None
        if not isinstance(body, dict):
            raise ZenodoError(f"GET {http.redact(url)}: the answer is not a record")
        return body

    def parse(self, body: dict[str, Any]) -> Record:
        record_id = str(body.get("id") or body.get("recid") or "")
        raw = body.get("files") or []
        entries = list(raw.get("entries", {}).values()) if isinstance(raw, dict) else raw
        files = []
        for e in entries:
            if not isinstance(e, dict):
                continue
            key = str(e.get("key") or e.get("filename") or "")
            size = e.get("size") if isinstance(e.get("size"), int) else None
            checksum = str(e.get("checksum") or "")
            url = _content_url(e) or f"{self.base}/api/records/{record_id}/files/{quote(key)}/content"
            files.append(RemoteFile(record_id=record_id, key=key, size=size, checksum=checksum, url=url))
        doi = body.get("doi") or (body.get("metadata") or {}).get("doi") or (body.get("pids") or {}).get("doi", {}).get("identifier")
        links = body.get("links") or {}
        return Record(id=record_id, doi=str(doi) if doi else None, url=str(links.get("html") or f"{self.base}/records/{record_id}"),
                      files=tuple(files))

    def record(self, record_id: str) -> Record:
        return self.parse(self._json(f"{self.base}/api/records/{record_id}"))

    def community(self, name: str) -> list[Record]:
        """Every record of the community ``name`` (its identifier, as in its URL)."""
        found: list[Record] = []
        page = 1
        while len(found) < MAX_RECORDS:
            body = self._json(f"{self.base}/api/records", params={"communities": name, "size": PAGE, "page": page, "sort": "mostrecent"})
            hits = (body.get("hits") or {}).get("hits") or []
            found += [self.parse(h) for h in hits if isinstance(h, dict)]
            total = (body.get("hits") or {}).get("total")
            total = total.get("value") if isinstance(total, dict) else total
            if not hits or (isinstance(total, int) and len(found) >= total):
                break
            page += 1
        return found

    def download(self, f: RemoteFile, cache: Path) -> tuple[Path, str]:
        """The file in the cache, verified; and what vouches for it. Downloaded only when
        the cache has no copy that matches Zenodo's checksum; a download that does not
        match is deleted and refused (:class:`HashMismatch`)."""
        if not f.key or "/" in f.key or f.key.startswith(".") or "\x00" in f.key:
            raise ZenodoError(f"record {f.record_id}: the file name {f.key!r} is not a plain file name; not downloaded")
        host = (urlsplit(self.base).netloc or "zenodo").replace(":", "_")
        dest = cache / "zenodo" / host / f.record_id / f.key
        algo, _, expected = f.checksum.partition(":")
        if f.checksum and (algo.lower() not in hashlib.algorithms_guaranteed or not expected):
            raise ZenodoError(f"record {f.record_id}: {f.key}: a checksum reprokit cannot check ({f.checksum!r})")
        vouch = f"{algo} as Zenodo lists it" if f.checksum else "no checksum listed by Zenodo (its SHA256SUMS is checked)"
        if dest.is_file():
            if not f.checksum or _digest(dest, algo) == expected.lower():
                return dest, vouch
            dest.unlink()  # not what the record lists (a damaged cache): fetched again
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        h = hashlib.new(algo.lower() if f.checksum else "sha256")
        size = 0
        r = self._get(f.url, stream=True)
        try:
            with open(part, "wb") as out:
                for chunk in r.iter_content(CHUNK):
                    size += len(chunk)
                    if f.size is not None and size > f.size:
                        raise HashMismatch(f"record {f.record_id}: {f.key}: more bytes than the {f.size} Zenodo lists; refused, nothing kept")
                    h.update(chunk)
                    out.write(chunk)
            if f.size is not None and size != f.size:
                raise HashMismatch(f"record {f.record_id}: {f.key}: {size} bytes, not the {f.size} Zenodo lists; refused, nothing kept")
            if f.checksum and h.hexdigest() != expected.lower():
                raise HashMismatch(f"record {f.record_id}: {f.key}: {algo} {h.hexdigest()}, but Zenodo lists {expected}; refused, nothing kept")
            os.replace(part, dest)
        except requests.RequestException as exc:
            raise ZenodoError(f"record {f.record_id}: {f.key}: the download broke off ({exc.__class__.__name__})") from None
        finally:
            r.close()
            part.unlink(missing_ok=True)
        log.debug("downloaded %s (%d bytes) to %s", f.url, size, dest)
        return dest, vouch


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo.lower())
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()
