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
            candidates = [interpreter.PythonChoice(version=v, stands_in_for=wanted.version, source=(
                f"{wanted.source}; Python {wanted.version} is not on this machine, and {v} is the nearest installed one"
                + (" the locked packages have wheels for" if i else ""))) for i, v in enumerate(near)] or candidates
    candidates = [_dated(c, date) for c in candidates]
    if len(candidates) == 1 or python is not None:
        choice = candidates[0]
        scanned, locked = lock_scan(scan(ScanSettings(path=paper, python=choice.version)),
                                    LockSettings(date=lock_date(choice, date), python=choice.version, index_url=index_url),
                                    root=paper, entry_points=entry_points)
        return choice, scanned, locked
    first: tuple[PythonChoice, ScanResult, Lock] | None = None
    failure: ResolutionFailed | None = None
    for choice in candidates:
        try:
            scanned, locked = lock_scan(scan(ScanSettings(path=paper, python=choice.version)),
                                        LockSettings(date=lock_date(choice, date), python=choice.version,
                                                     index_url=index_url), root=paper, entry_points=entry_points)
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


# How long after a CPython's release its packages' releases have builds for it (numpy
# 1.12 came with wheels for 3.6 three weeks after it, scipy 0.19 eleven).
WHEELS_AFTER = dt.timedelta(days=90)


def _dated(choice: PythonChoice, date: dt.date) -> PythonChoice:
    """A substitute Python released after the paper's date says so in its source."""
    when = lock_date(choice, date)
    if when == date:
        return choice
    return dataclasses.replace(choice, source=f"{choice.source}; it came out after the paper's date, so packages are as of {when}, "
                                              f"{WHEELS_AFTER.days} days after its release, when they had builds for it")


def lock_date(choice: PythonChoice, date: dt.date) -> dt.date:
    """The date the paper's packages are locked as of on ``choice``: the paper's own, but
    for a Python that stands in for the one it states (not on this machine) and came out
    after it. Packages of the paper's date have no builds for that Python (numpy 1.11 of
    2016 and Python 3.6): they are taken as of a little after its release instead."""
    released = interpreter.RELEASED.get(choice.version)
    if not choice.stands_in_for or released is None or released <= date:
        return date
    return released + WHEELS_AFTER


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
