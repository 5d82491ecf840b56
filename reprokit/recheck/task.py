"""One bundle checked: the function a Dask worker runs (or this process, without Dask).
The bundle is unpacked as ``validate`` unpacks it, validated with the checks asked for,
and returned as plain data with what the history keeps: which bytes were checked (the
sha256 of its SHA256SUMS), how long it took, the most memory its processes held, and
where it ran. A bundle whose workers died under it twice is not started a third time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import platform
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import distributed
import psutil

from reprokit import __version__, sandbox
from reprokit.bundle import manifest, tarball
from reprokit.errors import InputError, ReprokitError
from reprokit.fsutil import sha256_file, temporary_folder
from reprokit.validate import ValidateSettings, validate

log = logging.getLogger(__name__)

# Topic of the scheduler's event log where each start of a check is written, so that a
# check started again after its worker died knows how many times that happened.
TOPIC = "reprokit-recheck"
MAX_STARTS = 2  # starts whose workers died before one is refused
SAMPLE_EVERY = 0.2  # seconds between two looks at the memory of the check's processes


PAGE = os.sysconf("SC_PAGE_SIZE")


def descendants(pid: int) -> list[int] | None:
    """The processes under ``pid``, read from Linux's ``/proc/PID/task/TID/children`` (a few
    small files, where psutil reads every process's); None where the kernel has none."""
    if not os.path.exists(f"/proc/{pid}/task/{pid}/children"):
        return None
    found: list[int] = []
    todo = [pid]
    while todo:
        here = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{here}/task")
        except OSError:  # ended meanwhile
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{here}/task/{tid}/children", encoding="ascii") as fh:
                    kids = [int(k) for k in fh.read().split()]
            except (OSError, ValueError):
                continue
            found += kids
            todo += kids
    return found


def rss(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except (OSError, ValueError, IndexError):  # ended between the listing and the look
            continue
    return total


class PeakMemory:
    """The most memory the processes this one starts hold at once (their RSS summed),
    sampled in a thread while the block runs: the rebuild's pip and build backends and
    the paper's runs, not reprokit itself."""

    def __init__(self, every: float = SAMPLE_EVERY) -> None:
        self.every, self.peak = every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="reprokit-peak-memory", daemon=True)

    def _held(self) -> int:
        pids = descendants(os.getpid())
        if pids is not None:
            return rss(pids)
        total = 0
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process().children(recursive=True):
                with contextlib.suppress(psutil.Error):  # ended between the listing and the look
                    total += child.memory_info().rss
        return total

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._held())
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def host() -> dict[str, str]:
    return {"reprokit_version": __version__, "platform": platform.platform(), "python": platform.python_version()}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def start(spec: Mapping[str, Any]) -> tuple[int, str]:
    """This start's number for the bundle in its run, and the worker's address. On a Dask
    worker each start is written to the scheduler's event log before the check begins;
    a task runs again only when its worker was lost, so earlier starts are deaths."""
    try:
        worker = distributed.get_worker()
    except ValueError:  # not on a Dask worker
        return 1, ""
    client = distributed.get_client()
    topic = f"{TOPIC}:{spec['run']}:{spec['bundle_id']}"
    before = len(client.get_events(topic))
    client.log_event(topic, {"worker": worker.address, "pid": os.getpid()})
    return before + 1, str(worker.address)


def settings_of(spec: Mapping[str, Any], bundle: Path) -> ValidateSettings:
    s = spec["settings"]
    limits = sandbox.Limits(memory=int(s["memory"])) if s.get("memory") else sandbox.Limits()
    return ValidateSettings(bundle=bundle, rebuild=s["rebuild"], rerun=bool(s["rerun"]), network=bool(s["network"]),
                            sandboxed=bool(s["sandboxed"]), allow_skip=frozenset(s["allow_skip"]), run_timeout=s.get("run_timeout"),
                            limits=limits, caps=tarball.Caps(**s["caps"]), clock_ahead=s.get("clock_ahead"),
                            nix_without_sandbox=bool(s.get("nix_without_sandbox")))


def check(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Check the bundle ``spec`` names; plain data for :func:`reprokit.recheck.results.from_task`.
    Never raises for a bundle's fault: what went wrong is in the result."""
    began = time.monotonic()
    number, worker = start(spec)
    base = {"bundle_id": spec["bundle_id"], "name": spec.get("name"), "source": spec.get("source"), "doi": spec.get("doi"),
            "fetch": spec.get("fetch"), "clock_ahead": spec["settings"].get("clock_ahead"), "worker": worker, "attempts": number,
            **host()}
    if number > MAX_STARTS:
        return {**base, "status": "killed-workers", "checked_at": now(), "duration": 0.0, "peak_memory": 0,
                "detail": f"the worker checking it died {number - 1} times (killed, or out of memory); not started again"}
    with PeakMemory() as peak:
        try:
            found = _check(spec)
        except Exception as exc:  # reprokit's own failure: recorded, and the run goes on
            log.debug("checking %s failed:\n%s", spec["bundle_id"], traceback.format_exc())
            found = {"status": "error", "detail": f"{exc.__class__.__name__}: {exc}".splitlines()[0]}
    return {**base, **found, "checked_at": now(), "duration": time.monotonic() - began, "peak_memory": peak.peak}


def _check(spec: Mapping[str, Any]) -> dict[str, Any]:
    path = Path(spec["path"])
    s = spec["settings"]
    if not path.exists():
        return {"status": "error", "detail": f"{path} is not there on {platform.node()}: on a cluster, every worker needs the bundles "
                                             "(and the cache) at the same paths as the client, on a shared filesystem"}
    with temporary_folder("recheck") as tmp:
        try:
            folder = tarball.open_bundle(path, Path(tmp), tarball.Caps(**s["caps"])).absolute()
        except ReprokitError as exc:
            # A tarball refused by the safe unpacking (or gone): no bundle to check.
            why = str(exc)
            return {"status": "failed", "report": {"ok": False, "checks": [{"name": "integrity", "status": "failed", "reason": why}]}}
        sums = folder / "SHA256SUMS"
        digest = sha256_file(sums) if sums.is_file() and not sums.is_symlink() else None
        name = spec.get("name")
        with contextlib.suppress(InputError):  # integrity says why
            name = manifest.read(folder / "reprokit.yaml").paper.name or name
        report = validate(settings_of(spec, folder)).to_json()
    report["bundle"] = spec.get("source") or str(path)
    return {"status": "passed" if report["ok"] else "failed", "report": report, "sums_sha256": digest, "name": name}
