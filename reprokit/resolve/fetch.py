"""One locked artifact, downloaded once into a content-addressed cache
(``<cache>/artifacts/sha256/ab/abcd…``) and verified: a file enters the cache only after
its sha256 matched the lock. Downloads go to a ``.part`` file that a later call resumes;
only a complete, verified file is ever renamed into place.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from reprokit import lazy
from reprokit.errors import HashMismatch, PackageIndexError
from reprokit.fsutil import sha256_file
from reprokit.resolve import pypi
from reprokit.resolve.lockfile import Artifact

if TYPE_CHECKING:
    import requests
else:
    requests = lazy.module("requests")


def cache_path(cache: Path, sha256: str) -> Path:
    return cache / "artifacts" / "sha256" / sha256[:2] / sha256


class ProgressHook(Protocol):
    """Told about downloads as they go (:class:`reprokit.report.progress.Progress` draws them)."""

    def start(self, files: Sequence[tuple[str, int]]) -> None: ...

    def advance(self, name: str, n: int) -> None: ...

    def finished(self, name: str, how: str) -> None: ...

    def close(self) -> None: ...


class Stopped(Exception):
    """The run is being interrupted: a download in flight gives up at its next chunk."""


def fetch(client: pypi.Client, artifact: Artifact, cache: Path, progress: ProgressHook | None = None, attempts: int = 3,
          stop: threading.Event | None = None) -> tuple[Path, bool]:
    """The cached file of ``artifact``, downloading (and resuming) it if needed."""
    final = cache_path(cache, artifact.sha256)
    if final.exists():
        if progress:
            progress.advance(artifact.filename, artifact.size or 0)
        return final, False
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_name(final.name + ".part")
    for attempt in range(attempts):
        offset = part.stat().st_size if part.exists() else 0
        if artifact.size is not None and offset > artifact.size:
            part.unlink()
            offset = 0
        try:
            with open(part, "ab") as fh:
                for n in client.download(artifact.url, fh.write, offset=offset):
                    if stop is not None and stop.is_set():
                        raise Stopped()
                    if n == -1:  # the server restarted from byte 0
                        fh.truncate(0)
                        fh.seek(0)
                        continue
                    if progress:
                        progress.advance(artifact.filename, n)
        except (requests.RequestException, PackageIndexError) as exc:
            if attempt == attempts - 1:
                raise PackageIndexError(f"{artifact.filename}: download failed ({exc})") from None
            continue
        size = part.stat().st_size
        if artifact.size is not None and size < artifact.size:
            continue  # truncated body: resume from where it stopped
        got = sha256_file(part)
        if got != artifact.sha256:
            part.unlink()
            raise HashMismatch(f"{artifact.filename}: sha256 is {got}, the lock says {artifact.sha256}; the file was not kept")
        os.replace(part, final)
        return final, True
    raise PackageIndexError(f"{artifact.filename}: still incomplete after {attempts} tries")
