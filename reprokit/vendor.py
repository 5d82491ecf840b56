"""``reprokit vendor``: every artifact of a lock, downloaded once, verified, kept.

Artifacts live in a content-addressed cache (``<cache>/artifacts/sha256/ab/abcd…``);
a file enters it only after its sha256 matched the lock, and a second vendoring of the
same lock makes no network request. Downloads go to a ``.part`` file that a later run
resumes; only a complete, verified file is ever renamed into place.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from reprokit.cache import cache_root
from reprokit.resolve import pypi
from reprokit.resolve.fetch import ProgressHook, Stopped, fetch
from reprokit.resolve.lockfile import Artifact, Lock

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True, slots=True)
class VendorSettings:
    output: Path
    sdists: bool = True
    wheels: bool = True
    jobs: int = 4
    cache_dir: Path | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Vendored:
    artifact: Artifact
    path: Path  # inside the output folder
    downloaded: bool  # False: came from the cache


@dataclass(frozen=True, kw_only=True, slots=True)
class VendorReport:
    files: tuple[Vendored, ...]
    requests: int
    bytes_downloaded: int
    seconds: float


def selected(lock: Lock, settings: VendorSettings) -> list[tuple[Artifact, str]]:
    """The artifacts to keep, each with its folder: sdists (and, for a release without
    one, its wheel) in ``sdist/`` and wheels in ``wheels/``; the build tools in ``build/``
    (the wheel, else the sdist)."""
    out = []
    for p in lock.packages:
        for a in p.artifacts:
            if a.kind == "sdist" and settings.sdists:
                out.append((a, "sdist"))
            elif a.kind == "wheel" and (settings.wheels or not p.has_sdist):
                out.append((a, "wheels"))
    seen: set[str] = set()
    for p in lock.build_tools:
        wheel = next((a for a in p.artifacts if a.kind == "wheel"), None)
        for a in [wheel] if wheel else [a for a in p.artifacts if a.kind == "sdist"]:
            if a.sha256 not in seen:
                seen.add(a.sha256)
                out.append((a, "build"))
    return out


def _place(src: Path, dest: Path) -> None:
    """Hard-link (or copy) a cached file into the output, atomically."""
    if dest.exists() and dest.stat().st_size == src.stat().st_size and os.path.samefile(src, dest):
        return
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def vendor(lock: Lock, settings: VendorSettings, client: pypi.Client | None = None, progress: ProgressHook | None = None) -> VendorReport:
    """Vendor the lock's artifacts; ``progress`` (if given) hears of each download."""
    cache = cache_root(settings.cache_dir)
    chosen = selected(lock, settings)
    client = client or pypi.Client()
    started = time.monotonic()
    if progress is not None:
        progress.start([(a.filename, a.size or 0) for a, _ in chosen])
    for folder in ("sdist", "wheels", *(["build"] if lock.build_tools else [])):
        (settings.output / folder).mkdir(parents=True, exist_ok=True)
    results: list[Vendored] = []

    stop = threading.Event()

    def one(item: tuple[Artifact, str]) -> Vendored:
        a, folder = item
        if stop.is_set():
            raise Stopped()
        cached, downloaded = fetch(client, a, cache, progress, stop=stop)
        dest = settings.output / folder / a.filename
        _place(cached, dest)
        if progress is not None:
            progress.finished(a.filename, "download" if downloaded else "cached")
        return Vendored(artifact=a, path=dest, downloaded=downloaded)

    pool = concurrent.futures.ThreadPoolExecutor(max(1, settings.jobs))
    try:
        futures = [pool.submit(one, item) for item in chosen]
        for fut in concurrent.futures.as_completed(futures):
            results.append(fut.result())
    except BaseException:
        # An error, Ctrl-C or SIGTERM: pending downloads never start and those in flight
        # stop at their next chunk; nothing waits for them.
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        pool.shutdown()
    finally:
        if progress is not None:
            progress.close()
    results.sort(key=lambda v: v.path.name)
    return VendorReport(
        files=tuple(results), requests=client.requests_made,
        bytes_downloaded=sum(v.artifact.size or 0 for v in results if v.downloaded), seconds=time.monotonic() - started,
    )
