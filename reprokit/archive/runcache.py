"""The archive-time runs of a paper, kept between archives: a second archive of the same
paper with the same lock and settings takes the runs the first one made instead of
making them again, as a build system takes an action whose inputs have not changed.

A run is kept under the cache (``runs/KEY/``) by everything it is made from: the
environment (:func:`reprokit.archive.envcache.key`, the lock and its files and the
interpreter), every file of the paper by its sha256, the entry points in order (their
arguments, folders and the folders made for them), the paper's folders on sys.path, the
time budget, the sandbox's limits, the run's number and reprokit's version. Runs are
sandboxed, with no network: what they read is this and nothing else, but for the clock
and randomness, which the record learns as noise. Only runs in which every entry point
ran to its end are kept: a failure is made again, never replayed. The four most recently
used are kept.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path

import reprokit
from reprokit import sandbox
from reprokit.run import RunResult
from reprokit.scan.entrypoints import EntryPoint

FORMAT = 1
KEEP = 4


def key(env_key: str, paper_sha: Mapping[str, str], eps: Sequence[EntryPoint], python_path: Sequence[str], timeout: int,
        policy: sandbox.Policy, number: int) -> str:
    """What run ``number`` of ``eps`` is made from, hashed."""
    doc = {
        "format": FORMAT, "reprokit": reprokit.__version__, "env": env_key, "paper": sorted(paper_sha.items()),
        "entry_points": [dataclasses.asdict(ep) for ep in eps], "python_path": list(python_path), "timeout": timeout,
        "policy": repr(policy), "run": number, "runner": _runner(),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()[:32]


@functools.cache
def _runner() -> str:
    """The code of reprokit's that runs inside a run (the notebook runner, the matplotlib
    backend that keeps shown figures), hashed: a change to it is another run, whatever
    the version says."""
    h = hashlib.sha256()
    for part in (resources.files("reprokit.run").joinpath("_nbrun.py"), resources.files("reprokit").joinpath("data/nix/reprokit_show.py")):
        h.update(part.read_bytes())
    return h.hexdigest()


def load(cache: Path, name: str, eps: Sequence[EntryPoint], collect: Path) -> list[RunResult] | None:
    """The kept run ``name``, its files copied to ``collect/<entry point>/``; None when
    none is kept (or what is kept does not fit ``eps``)."""
    folder = cache / "runs" / name
    try:
        doc = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        kept = {r["name"]: r for r in doc["results"]}
        if [ep.name for ep in eps] != [r["name"] for r in doc["results"]]:
            return None
        results = [RunResult(entry_point=ep, ok=True, message="", outputs=dict(kept[ep.name]["outputs"]),
                             seconds=float(kept[ep.name]["seconds"]), window=(float(kept[ep.name]["window"][0]), float(kept[ep.name]["window"][1])))
                   for ep in eps]
        if (folder / "files").is_dir():
            shutil.copytree(folder / "files", collect, dirs_exist_ok=True)
        os.utime(folder / "results.json")
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    return results


def save(cache: Path, name: str, results: Sequence[RunResult], collect: Path) -> None:
    """Keep ``results`` (and the files under ``collect``) as ``name`` when every entry
    point ran to its end; the folder appears whole or not at all."""
    if not results or not all(r.ok and not r.timed_out for r in results):
        return
    runs = cache / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    doc = {"format": FORMAT, "results": [{"name": r.entry_point.name, "outputs": r.outputs, "seconds": r.seconds,
                                          "window": list(r.window)} for r in results]}
    with _locked(runs):
        if (runs / name / "results.json").is_file():
            return
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=runs))
        try:
            names = {r.entry_point.name for r in results}
            for sub in collect.iterdir() if collect.is_dir() else ():
                if sub.name in names:
                    shutil.copytree(sub, tmp / "files" / sub.name, symlinks=True)
            (tmp / "results.json").write_text(json.dumps(doc), encoding="utf-8")
            os.replace(tmp, runs / name)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            return
        _prune(runs)


@contextlib.contextmanager
def _locked(runs: Path) -> Iterator[None]:
    with open(runs / ".lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _prune(runs: Path) -> None:
    """All but the most recently used runs removed, and what a stopped save left."""
    kept = [d for d in runs.iterdir() if d.is_dir() and (d / "results.json").is_file() and not d.name.startswith(".")]
    kept.sort(key=lambda d: (d / "results.json").stat().st_mtime, reverse=True)
    for old in kept[KEEP:] + [d for d in runs.iterdir() if d.is_dir() and d.name.startswith(".")]:
        shutil.rmtree(old, ignore_errors=True)
