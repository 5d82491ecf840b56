"""``reprokit recheck``: the ten-year check, over many bundles. Each bundle gets the checks
``validate`` runs (sandboxed as it runs them), as a Dask task (:mod:`.cluster`, the work of
one bundle: :mod:`.task`); every result goes into the history (:mod:`.history`) as it
comes, so an interrupted run resumes where it stopped. Bundles come from folders,
tarballs, lists and Zenodo (:mod:`.sources`, :mod:`.zenodo`).
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from reprokit.bundle import tarball
from reprokit.cache import cache_root
from reprokit.errors import HashMismatch, UsageError, ZenodoError
from reprokit.recheck import cluster, history, sources, zenodo
from reprokit.recheck.history import History
from reprokit.recheck.results import Result, Run, Step, from_task
from reprokit.recheck.task import host, now
from reprokit.sandbox.clock import seconds_ahead

__all__ = ["Outcome", "RecheckSettings", "Result", "Run", "Tally", "read_history", "recheck"]

DOWNLOADS = 4  # Zenodo files fetched at once


@dataclass(frozen=True, kw_only=True, slots=True)
class Tally:
    """Where a run is, for its progress bar."""

    total: int
    done: int  # checked, in this run (before a resume too)
    failed: int  # of those done, not passed
    running: int
    eta: float | None  # seconds, from the pace so far; None before the first result
    last: Result | None = None  # the result that just came, if one did


@dataclass(frozen=True, kw_only=True, slots=True)
class RecheckSettings:
    sources: tuple[str, ...] = ()
    communities: tuple[str, ...] = ()  # Zenodo communities: every record's bundle
    zenodo_url: str = zenodo.DEFAULT_URL
    allow_http: bool = False
    cache_dir: Path | None = None  # Zenodo downloads go to its zenodo/ (shared with workers on a cluster)
    db: Path | None = None  # the history; None: history.default_path()
    # The checks, as validate's: integrity and completeness always.
    rebuild: Literal["pip", "nix", "none"] = "pip"
    rerun: bool = True
    network: bool = False
    sandboxed: bool = True
    allow_skip: frozenset[str] = frozenset()
    run_timeout: int | None = None
    memory: int | None = None  # per check (and per LocalCluster worker); None: the worker's share
    caps: tarball.Caps = field(default_factory=tarball.Caps)
    clock_ahead: str | None = None
    nix_without_sandbox: bool = False
    # Where: a running Dask scheduler's address, else a LocalCluster of ``workers``.
    scheduler: str | None = None
    workers: int | None = None
    resume: bool = True  # an unfinished run of the same bundles and checks goes on
    progress: Callable[[Tally], None] | None = None
    say: Callable[[str], None] | None = None  # notes for people

    def checks(self) -> dict[str, Any]:
        """What decides a check's answer: a run resumes only a run that asked the same."""
        return {"rebuild": self.rebuild, "rerun": self.rerun, "network": self.network, "sandboxed": self.sandboxed,
                "allow_skip": sorted(self.allow_skip), "run_timeout": self.run_timeout, "clock_ahead": self.clock_ahead,
                "nix_without_sandbox": self.nix_without_sandbox}


@dataclass(frozen=True, kw_only=True, slots=True)
class Outcome:
    run: Run
    results: tuple[Result, ...]  # every bundle of the run, those checked before a resume too
    resumed: bool
    skipped: int  # bundles a resumed run had checked already
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def exit_status(self) -> int:
        return 0 if self.ok else 1

    def to_json(self) -> dict[str, object]:
        return {"reprokit_recheck": 1, "run": self.run.to_json(), "ok": self.ok, "exit_status": self.exit_status, "resumed": self.resumed,
                "skipped": self.skipped, "results": [r.to_json() for r in self.results], "notes": list(self.notes)}


def fingerprint(targets: Sequence[sources.Target], settings: RecheckSettings) -> str:
    text = json.dumps({"bundles": sorted(t.bundle_id for t in targets), "checks": settings.checks()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def spec_of(target: sources.Target, path: Path, run_id: int, settings: RecheckSettings, fetch: str | None, memory: int | None) -> dict[str, Any]:
    """What a check task gets: plain data. ``memory``: what its sandbox may use (None: the
    sandbox's default share of the worker's machine)."""
    caps = settings.caps
    return {"run": run_id, "bundle_id": target.bundle_id, "name": target.name, "source": target.source, "doi": target.doi,
            "path": str(path), "fetch": fetch,
            "settings": {**settings.checks(), "memory": memory,
                         "caps": {"size": caps.size, "ratio": caps.ratio, "files": caps.files, "depth": caps.depth}}}


def unavailable(target: sources.Target, why: str, run_id: int) -> Result:
    here = host()
    return Result(bundle_id=target.bundle_id, name=target.name, source=target.source, doi=target.doi, status="unavailable",
                  checked_at=now(), run_id=run_id, detail=why, steps=(Step(name="fetch", status="failed", reason=why),),
                  reprokit_version=here["reprokit_version"], platform=here["platform"], python=here["python"])


def fetch(targets: Sequence[sources.Target], cache: Path, allow_http: bool) -> list[tuple[sources.Target, Path | None, str]]:
    """Each target's path on disk and what vouches for it; a Zenodo file is downloaded (or
    found in the cache) and checked, and one that cannot be had gets None and why."""
    clients: dict[str, zenodo.Records] = {}

    def one(t: sources.Target) -> tuple[sources.Target, Path | None, str]:
        if t.error:
            return t, None, t.error
        if t.remote is None:
            return t, t.path, ""
        client = clients.setdefault(t.base, zenodo.Records(t.base, allow_http=allow_http))
        try:
            path, vouch = client.download(t.remote, cache)
        except (HashMismatch, ZenodoError) as exc:
            return t, None, str(exc)
        return t, path, f"{t.remote.key} from {t.base} (cached in {path.parent}); {vouch}"

    for t in targets:  # the clients are made here, not in the threads
        if t.remote is not None and not t.error:
            clients.setdefault(t.base, zenodo.Records(t.base, allow_http=allow_http))
    with concurrent.futures.ThreadPoolExecutor(DOWNLOADS) as pool:
        return list(pool.map(one, targets))


def recheck(settings: RecheckSettings) -> Outcome:
    if settings.clock_ahead:
        seconds_ahead(settings.clock_ahead)  # a bad span is a usage error before any work
    say = settings.say or (lambda line: None)
    targets = sources.gather(settings.sources, settings.communities, zenodo_url=settings.zenodo_url, allow_http=settings.allow_http, say=say)
    if not targets:
        raise UsageError("nothing to recheck: name bundle folders, tarballs, lists of them, Zenodo DOIs or --zenodo-community")
    size = cluster.local_size(settings.workers, settings.memory)
    where = settings.scheduler or f"LocalCluster ({size.workers} workers)"
    notes: list[str] = []
    with History(settings.db or history.default_path(), writer=True) as h:
        run, resumed = h.start_run(fingerprint=fingerprint(targets, settings), bundles=len(targets), scheduler=where,
                                   options={**settings.checks(), "sources": list(settings.sources), "communities": list(settings.communities)},
                                   resume=settings.resume, **host())
        checked = h.checked_in(run.id)
        todo = [t for t in targets if t.bundle_id not in checked]
        skipped = len(targets) - len(todo)
        if resumed:
            notes.append(f"resumed run {run.id} of {run.started}: {skipped} of {len(targets)} bundles were checked already")
            say(notes[-1])
        done = skipped
        failed = sum(1 for r in h.results(run_id=run.id) if not r.ok)
        began = time.monotonic()
        running = 0

        def tell(last: Result | None) -> None:
            if settings.progress is None:
                return
            finished_here = done - skipped
            left = len(targets) - done
            eta = (time.monotonic() - began) / finished_here * left if finished_here else None
            settings.progress(Tally(total=len(targets), done=done, failed=failed, running=running, eta=eta, last=last))

        def keep(result: Result, report: dict[str, Any] | None = None) -> None:
            nonlocal done, failed
            if h.record(result, report):
                done += 1
                failed += not result.ok
            tell(result)

        def polled(n: int) -> None:
            nonlocal running
            running = n
            tell(None)

        tell(None)
        specs = []
        for t, path, vouch in fetch(todo, cache_root(settings.cache_dir), settings.allow_http):
            if path is None:
                keep(unavailable(t, vouch, run.id))
            else:
                specs.append(spec_of(t, path, run.id, settings, vouch or None, settings.memory or (None if settings.scheduler else size.memory)))
        if specs:
            with cluster.connect(settings.scheduler, size) as (client, described):
                notes.append(f"checks ran on {described}")
                cluster.run_checks(client, specs, on_result=lambda data: keep(from_task(data, run.id), data.get("report")), on_poll=polled)
        h.finish_run(run.id)
        return Outcome(run=h.run(run.id), results=tuple(h.results(run_id=run.id)), resumed=resumed, skipped=skipped, notes=tuple(notes))


def read_history(db: Path | None = None, bundle: str | None = None) -> tuple[list[Run], list[Result]]:
    """The runs and results of a history (one bundle's, by id, name, DOI or source)."""
    with History(db or history.default_path()) as h:
        found = h.results(bundle)
        if bundle is not None and not found:
            raise UsageError(f"{h.path}: no bundle {bundle!r} in this history")
        return h.runs(), found
