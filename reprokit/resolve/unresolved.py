"""Imports no table knows, matched from PyPI: the project of the import's name when its
files provide that module, or the distribution that provides a module a run asked for.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from reprokit.errors import ReprokitError
from reprokit.resolve import pypi
from reprokit.resolve.settings import LockSettings
from reprokit.scan import Distribution, ScanResult
from reprokit.scan.declared import is_requirement
from reprokit.scan.mapping import Mapper


def _newest_file(client: pypi.Client, project: str, cutoff: dt.datetime) -> pypi.File | None:
    """The newest release's file uploaded before ``cutoff`` (else the oldest at all): a
    wheel where there is one."""
    files = [f for f in client.files(project) if not f.yanked]
    def when(f: pypi.File) -> dt.datetime:
        try:
            return dt.datetime.fromisoformat((f.upload_time or "").replace("Z", "+00:00"))
        except ValueError:
            return dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    before = [f for f in files if when(f) < cutoff] or sorted(files, key=when)[:3]
    if not before:
        return None
    newest = max(before, key=when)
    same_release = [f for f in before if abs((when(f) - when(newest)).days) < 30]
    return next((f for f in same_release if f.kind == "wheel"), newest)


def provided_modules(client: pypi.Client, project: str, cutoff: dt.datetime, cache: dict[str, set[str]]) -> set[str]:
    """The top-level modules a project's files provide (read from a wheel's file list or an
    sdist's members), never guessed from its name."""
    key = str(canonicalize_name(project))
    if key not in cache:
        try:
            f = _newest_file(client, project, cutoff)
            cache[key] = pypi.top_level_modules(client.archive_names(f)) if f else set()
        except ReprokitError:
            cache[key] = set()
    return cache[key]


def resolve_unresolved(scan: ScanResult, settings: LockSettings, client: pypi.Client) -> tuple[ScanResult, list[str]]:
    """Imports no table knows, matched from PyPI: first against the distributions the paper
    declares (``nest-simulator`` provides ``nest``; ``econ-ark`` provides ``HARK``), then
    against the PyPI project of the import's own name, when that project's files really
    provide the module (``pyper`` is provided by PypeR). Each match from PyPI gets a note."""
    required = {i.top for i in scan.imports if i.kind == "third-party" and i.distribution is None}
    todo = sorted(m for m in scan.unresolved if m in required or m.split(".")[0] in required)
    if not todo:
        return scan, []
    cutoff = dt.datetime.combine(settings.date + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    cache: dict[str, set[str]] = {}
    declared = sorted({str(canonicalize_name(Requirement(d.requirement).name)) for d in scan.declared if is_requirement(d.requirement)})
    found: dict[str, tuple[str, str]] = {}  # module -> (distribution, how)
    for module in todo:
        top = module.split(".")[0]
        for dist in declared:
            if top in provided_modules(client, dist, cutoff, cache):
                found[module] = (dist, "declared")
                break
        else:
            for name in dict.fromkeys([top, top.replace("_", "-")]):
                try:
                    if top in provided_modules(client, name, cutoff, cache):
                        found[module] = (str(canonicalize_name(name)), "pypi")
                        break
                except ReprokitError:
                    continue
    if not found:
        return scan, []
    notes = [f"{m} is provided by the PyPI project {d} (read from its files); declare it, as reprokit locks it now"
             for m, (d, how) in sorted(found.items()) if how == "pypi"]
    by_top = {m.split(".")[0]: v for m, v in found.items()}
    imports = tuple(dataclasses.replace(i, distribution=by_top[i.top][0]) if i.kind == "third-party" and i.distribution is None and i.top in by_top else i
                    for i in scan.imports)
    dists = {d.name: d for d in scan.distributions}
    for top, (dist, how) in by_top.items():
        mods = tuple(sorted({i.module for i in imports if i.top == top}))
        optional = all(i.optional for i in imports if i.top == top)
        old = dists.get(dist)
        dists[dist] = Distribution(name=dist, imports=tuple(sorted(set(mods) | set(old.imports if old else ()))),
                                   optional=optional and (old.optional if old else True), declared=how == "declared",
                                   how="declared" if how == "declared" else "pypi")
    unresolved = tuple(u for u in scan.unresolved if u not in found and u.split(".")[0] not in by_top)
    return dataclasses.replace(scan, imports=imports, distributions=tuple(sorted(dists.values(), key=lambda d: d.name)),
                               unresolved=unresolved), notes


def distribution_of(module: str, settings: LockSettings, client: pypi.Client) -> str | None:
    """The distribution that provides ``module``: reprokit's table, else the PyPI project of
    the module's name when its files provide it."""

    match = Mapper(()).lookup(module)
    if match is not None:
        return match.distribution
    top = module.split(".")[0]
    cutoff = dt.datetime.combine(settings.date + dt.timedelta(days=1), dt.time(), dt.timezone.utc)
    for name in dict.fromkeys([top, top.replace("_", "-")]):
        try:
            if top in provided_modules(client, name, cutoff, {}):
                return str(canonicalize_name(name))
        except ReprokitError:
            continue
    return None
