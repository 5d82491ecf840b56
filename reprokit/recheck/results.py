"""What a recheck finds, typed: one :class:`Result` per bundle checked in a run (a row of
the history), made from the plain data a check task returns (:mod:`.task`), and the
:class:`Run` it belongs to. Dashboards and tables take these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

# passed: every requested check ran and passed. failed: one failed or could not run.
# killed-workers: the workers running it died, twice (it is not tried again).
# unavailable: its files could not be had (a record gone, a download refused).
# error: reprokit itself failed while checking it.
Status = Literal["passed", "failed", "killed-workers", "unavailable", "error"]
STATUSES: tuple[Status, ...] = ("passed", "failed", "killed-workers", "unavailable", "error")
VERDICTS = ("identical", "equivalent", "different", "missing", "varies")


@dataclass(frozen=True, kw_only=True, slots=True)
class Step:
    """One check of validate in a result: integrity, completeness, rebuild-pip, rerun, …"""

    name: str
    status: str  # passed | failed | not-run
    reason: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class OutputSeen:
    """One recorded output's verdict in a result; ``ahead`` for the rerun with the clock ahead."""

    path: str
    status: str  # identical | equivalent | different | missing | varies
    summary: str = ""
    ahead: bool = False


@dataclass(frozen=True, kw_only=True, slots=True)
class Result:
    """One bundle checked in one run."""

    bundle_id: str  # the DOI (and file) of a Zenodo bundle, else its absolute path
    name: str  # what people call it: the paper's name, else the file's
    source: str  # as it was given
    status: Status
    checked_at: str  # ISO 8601, UTC, when its check ended
    run_id: int = 0
    sums_sha256: str | None = None  # sha256 of its SHA256SUMS: which bytes were checked
    doi: str | None = None
    detail: str = ""  # why, for killed-workers, unavailable and error
    steps: tuple[Step, ...] = ()
    outputs: tuple[OutputSeen, ...] = ()
    counts: Mapping[str, int] | None = None  # output verdicts of today's rerun, by status
    clock_ahead: str | None = None  # as asked (10y), when the rerun with the clock ahead was asked for
    clock_seconds: int | None = None
    time_bombs: tuple[str, ...] = ()
    duration: float = 0.0  # seconds the check took, unpacking included
    peak_memory: int = 0  # bytes: the most its processes held at once (sampled)
    reprokit_version: str = ""
    platform: str = ""  # the host that checked it
    python: str = ""  # the Python reprokit ran on there
    worker: str = ""  # the Dask worker, when one ran it
    attempts: int = 1  # times it was started (a worker that dies mid-check makes another)

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def verdicts(self) -> dict[str, int]:
        return {k: int((self.counts or {}).get(k, 0)) for k in VERDICTS}

    def to_json(self) -> dict[str, object]:
        return {"bundle_id": self.bundle_id, "name": self.name, "source": self.source, "run": self.run_id, "status": self.status,
                "checked_at": self.checked_at, "sums_sha256": self.sums_sha256, "doi": self.doi, "detail": self.detail,
                "checks": [{"name": s.name, "status": s.status, "reason": s.reason} for s in self.steps],
                "outputs": self.verdicts(), "clock_ahead": self.clock_ahead, "clock_seconds": self.clock_seconds,
                "time_bombs": list(self.time_bombs), "duration": round(self.duration, 3), "peak_memory": self.peak_memory,
                "reprokit_version": self.reprokit_version, "platform": self.platform, "python": self.python, "worker": self.worker,
                "attempts": self.attempts}


@dataclass(frozen=True, kw_only=True, slots=True)
class Run:
    """One recheck over a set of bundles."""

    id: int
    started: str
    finished: str | None  # None: interrupted, or still going
    bundles: int  # how many it set out to check
    scheduler: str = ""  # what ran the checks: "LocalCluster (2 workers)", a scheduler's address
    reprokit_version: str = ""
    platform: str = ""
    python: str = ""
    options: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "started": self.started, "finished": self.finished, "bundles": self.bundles, "scheduler": self.scheduler,
                "reprokit_version": self.reprokit_version, "platform": self.platform, "python": self.python,
                "options": dict(self.options or {})}


def from_task(data: Mapping[str, Any], run_id: int) -> Result:
    """A result from what :func:`reprokit.recheck.task.check` returned (plain data)."""
    report = data.get("report") or {}
    steps = tuple(Step(name=str(c["name"]), status=str(c["status"]), reason=str(c.get("reason") or "")) for c in report.get("checks", []))
    if data.get("fetch"):  # downloaded from Zenodo and checked against its checksum
        steps = (Step(name="fetch", status="passed", reason=str(data["fetch"])), *steps)
    outputs = [OutputSeen(path=str(v["path"]), status=str(v["status"]), summary=str(v.get("summary") or "")) for v in report.get("outputs", [])]
    ahead = report.get("clock_ahead") or {}
    outputs += [OutputSeen(path=str(v["path"]), status=str(v["status"]), summary=str(v.get("summary") or ""), ahead=True)
                for v in ahead.get("outputs", [])]
    counts: dict[str, int] = {k: 0 for k in VERDICTS}
    for o in outputs:
        if not o.ahead and o.status in counts:
            counts[o.status] += 1
    status = data.get("status") or ("passed" if report.get("ok") else "failed")
    return Result(
        bundle_id=str(data["bundle_id"]), name=str(data.get("name") or data["bundle_id"]), source=str(data.get("source") or ""),
        status=status if status in STATUSES else "error", checked_at=str(data["checked_at"]), run_id=run_id,
        sums_sha256=data.get("sums_sha256"), doi=data.get("doi"), detail=str(data.get("detail") or ""), steps=steps,
        outputs=tuple(outputs), counts=counts, clock_ahead=data.get("clock_ahead"), clock_seconds=ahead.get("seconds"),
        time_bombs=tuple(str(b.get("message", "")) for b in ahead.get("time_bombs", [])),
        duration=float(data.get("duration") or 0.0), peak_memory=int(data.get("peak_memory") or 0),
        reprokit_version=str(data.get("reprokit_version") or ""), platform=str(data.get("platform") or ""),
        python=str(data.get("python") or ""), worker=str(data.get("worker") or ""), attempts=int(data.get("attempts") or 1))


def names(results: Sequence[Result]) -> dict[str, str]:
    """What to call each bundle: its paper's name, and where copies share one, which copy
    (its DOI, else its path past what the copies' paths share)."""
    seen: dict[str, set[str]] = {}
    for r in results:
        seen.setdefault(r.name, set()).add(r.bundle_id)
    out = {}
    for r in results:
        ids = seen[r.name]
        if len(ids) == 1:
            out[r.bundle_id] = r.name
            continue
        paths = [i for i in ids if i.startswith("/")]
        shared = os.path.commonpath(paths) if len(paths) > 1 else ""
        which = r.doi or (os.path.relpath(r.bundle_id, shared) if shared and r.bundle_id.startswith("/") else r.bundle_id)
        out[r.bundle_id] = f"{r.name} ({which})"
    return out


def latest(results: Sequence[Result]) -> dict[str, Result]:
    """The newest result of each bundle."""
    out: dict[str, Result] = {}
    for r in sorted(results, key=lambda r: (r.checked_at, r.run_id)):
        out[r.bundle_id] = r
    return out
