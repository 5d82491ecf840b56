"""Which Python a paper is locked for: what it states, else the newest of its date for
which the locked packages have wheels, given way to the nearest installed one where this
machine lacks it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Sequence
from pathlib import Path

from reprokit.errors import ReprokitError, ResolutionFailed
from reprokit.resolve import interpreter, pypi
from reprokit.resolve.closure import lock_scan
from reprokit.resolve.interpreter import PythonChoice
from reprokit.resolve.lockfile import Lock
from reprokit.resolve.settings import LockSettings
from reprokit.scan import ScanResult, ScanSettings, scan

log = logging.getLogger(__name__)


def choose_python(paper: Path, files: Sequence[str], date: dt.date, python: str | None = None, index_url: str | None = None,
                  entry_points: Sequence[str] | None = None) -> tuple[PythonChoice, ScanResult, Lock]:
    """The paper's Python, its scan (imports matched from PyPI included) and its runtime
    lock. ``--python`` wins; else what the paper states (:func:`interpreter.infer`), the
    first version of a range whose locked packages all have wheels; when it states
    nothing, the newest CPython of its date for which they do. A version this machine
    lacks gives way, unless forced, to the nearest installed one (the first of those the
    locked packages have wheels for), with a note naming both."""

    stated = interpreter.PythonChoice(version=python, source="--python") if python else interpreter.infer(paper, files, date)
    if stated:
        candidates = [dataclasses.replace(stated, version=v, alternatives=()) for v in (stated.version, *stated.alternatives)]
    else:
        candidates = [interpreter.PythonChoice(version=v, source=f"the newest CPython of {date} with wheels for the locked packages")
                      for v in interpreter.current_at(date)[:3]]
    if python is None:
        here = [c for c in candidates if interpreter.find(c.version)[0] is not None]
        if here:
            candidates = here
        else:
            wanted = candidates[0]
            near = interpreter.nearest_installed(wanted.version)[:3]
            candidates = [interpreter.PythonChoice(version=v, source=(
                f"{wanted.source}; Python {wanted.version} is not on this machine, and {v} is the nearest installed one"
                + (" the locked packages have wheels for" if i else ""))) for i, v in enumerate(near)] or candidates
    if len(candidates) == 1 or python is not None:
        choice = candidates[0]
        scanned, locked = lock_scan(scan(ScanSettings(path=paper, python=choice.version)),
                                    LockSettings(date=date, python=choice.version, index_url=index_url), root=paper,
                                    entry_points=entry_points)
        return choice, scanned, locked
    first: tuple[PythonChoice, ScanResult, Lock] | None = None
    failure: ResolutionFailed | None = None
    for choice in candidates:
        try:
            scanned, locked = lock_scan(scan(ScanSettings(path=paper, python=choice.version)),
                                        LockSettings(date=date, python=choice.version, index_url=index_url), root=paper,
                                        entry_points=entry_points)
        except ResolutionFailed as exc:
            failure = failure or exc
            continue
        first = first or (choice, scanned, locked)
        lacking = lacks_wheels(locked, index_url)
        if not lacking:
            if choice is not candidates[0] and stated and stated.alternatives:
                choice = dataclasses.replace(choice, source=f"{stated.source}, the newest version it allows for which the locked packages "
                                                           f"have wheels ({candidates[0].version} has none for some)")
            return choice, scanned, locked
        log.debug("Python %s: no wheel for %s", choice.version, ", ".join(lacking))
    if first is None:
        assert failure is not None
        raise failure
    choice, scanned, locked = first
    if not stated:
        choice = dataclasses.replace(choice, source=f"the newest CPython of {date} (no candidate had wheels for every locked package)")
    elif choice.source.endswith(" the locked packages have wheels for"):
        choice = dataclasses.replace(choice, source=choice.source.removesuffix(" the locked packages have wheels for"))
    return choice, scanned, locked


def lacks_wheels(locked: Lock, index_url: str | None = None) -> list[str]:
    """Packages with no wheel for the lock's Python although their release has compiled
    wheels for others: building them needs compilers and system libraries."""
    client = pypi.Client(index_url)
    out = []
    for p in locked.packages:
        if any(a.kind == "wheel" for a in p.artifacts):
            continue
        try:
            files = client.files(p.name)
        except ReprokitError:
            continue
        prefix = re.sub(r"[-_.]+", "_", p.name).lower() + "-" + p.version + "-"
        if any(f.filename.lower().startswith(prefix) and f.kind == "wheel" and "-none-any" not in f.filename for f in files):
            out.append(p.pin)
    return out
